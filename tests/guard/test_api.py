"""The public surface of ``tether.guard`` is exactly ``__all__``."""

import tether.guard as guard


def test_all_is_importable_and_sorted() -> None:
    assert guard.__all__ == sorted(guard.__all__)
    for name in guard.__all__:
        assert hasattr(guard, name), name
