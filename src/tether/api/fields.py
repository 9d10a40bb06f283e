"""Field types the HTTP edge shares, so a request value that would overflow or mix kinds is a
422 at validation, never an exception deep inside a service.

* :data:`UtcDateTime`: a naive datetime is read as UTC and an aware one converted to UTC, so
  comparing two of them (``date_from`` against ``date_to``) can never mix naive and aware;
* :data:`Day`: a calendar day;
* both limited to the years 1000-2999, so "the day after" (``until=9999-12-31``) or a time
  zone shift cannot overflow Python's date range.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator

EARLIEST = date(1000, 1, 1)
LATEST = date(2999, 12, 31)
_RANGE = f"dates must lie between {EARLIEST.isoformat()} and {LATEST.isoformat()}"


def in_range(day: date) -> date:
    if not EARLIEST <= day <= LATEST:
        raise ValueError(_RANGE)
    return day


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (naive means UTC), within the accepted range."""
    in_range(value.date())
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    in_range(value.date())
    return value


UtcDateTime = Annotated[datetime, AfterValidator(as_utc)]
Day = Annotated[date, AfterValidator(in_range)]
