"""How a contract suite states "this broken setup must fail with that typed error"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tether.errors import TetherError


@dataclass(frozen=True)
class Failure:
    """``run()`` must raise ``error`` with ``code`` (and ``details["status"] == status`` when
    given); none of ``secrets`` may appear in the message."""

    label: str
    run: Callable[[], object]
    error: type[TetherError]
    code: str
    status: int | None = None
    secrets: tuple[str, ...] = ()


def assert_fails_typed(failure: Failure) -> TetherError:
    with pytest.raises(TetherError) as info:
        failure.run()
    err = info.value
    where = f"{failure.label}: {type(err).__name__}({err.message!r})"
    assert isinstance(err, failure.error), where
    assert err.code == failure.code, where
    assert isinstance(err.status, int) and 400 <= err.status <= 599, where
    if failure.status is not None:
        assert err.details.get("status") == failure.status, where
    for secret in failure.secrets:
        assert secret not in str(err) and secret not in repr(err.details), where
    return err
