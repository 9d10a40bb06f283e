"""The public surfaces stay small and importable."""

import tether.generate
import tether.ground
import tether.testing


def test_exports_resolve():
    for mod in (tether.generate, tether.ground, tether.testing):
        for name in mod.__all__:
            assert getattr(mod, name) is not None, (mod.__name__, name)
    assert callable(tether.ground.answer) and callable(tether.ground.stream_answer)
