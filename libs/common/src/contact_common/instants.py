"""The instants and days the platform accepts from clients: 1970 to 2099.

Pydantic's `AwareDatetime` and `date` accept year 1 to 9999 in any offset; such an instant
overflows when moved to UTC or the council's zone, and a day near either end overflows when a
service adds a day to make a range inclusive (issue 7's fuzzing found both as 500s). No contact
is from before 1970 or after 2099, so these types refuse the rest as bad input (a 422 naming the
field), for request bodies and query parameters alike.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
"""The first instant accepted."""
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
"""The first instant no longer accepted."""
FIRST_DAY = EARLIEST.date()
LAST_DAY = date(2099, 12, 31)

_RANGE = "from 1970-01-01 to 2099-12-31"


def check_instant(value: datetime) -> datetime:
    """`value` if it lies from 1970 to 2099 (UTC); ValueError otherwise."""
    # Comparing aware datetimes never builds a new one, so this cannot overflow itself.
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"must be {_RANGE} (UTC)")
    return value


def check_day(value: date) -> date:
    """`value` if it lies from 1970 to 2099; ValueError otherwise."""
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"must be {_RANGE}")
    return value


Instant = Annotated[AwareDatetime, AfterValidator(check_instant)]
"""An instant with an offset, from 1970 to 2099."""

Day = Annotated[date, AfterValidator(check_day)]
"""A calendar date from 1970 to 2099."""
