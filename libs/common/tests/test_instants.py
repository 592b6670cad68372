"""The instants and days clients may send: 1970 to 2099, never an overflow."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import TypeAdapter, ValidationError

from contact_common.instants import Day, Instant

INSTANT = TypeAdapter(Instant)
DAY = TypeAdapter(Day)


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00+14:00",  # overflows when moved to UTC
        "9999-12-31T23:59:59-12:00",
        "1969-12-31T23:59:59.999999Z",
        "2100-01-01T00:00:00Z",
    ],
)
def test_far_instants_are_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="1970-01-01 to 2099-12-31"):
        INSTANT.validate_python(text)


def test_the_edges_and_their_offsets_are_kept() -> None:
    assert INSTANT.validate_python("1970-01-01T00:00:00Z") == datetime(1970, 1, 1, tzinfo=UTC)
    late = INSTANT.validate_python("2099-12-31T22:59:59-01:00")  # 23:59:59 in UTC
    assert late.utcoffset() == timedelta(hours=-1)
    west = timezone(timedelta(hours=-1))
    with pytest.raises(ValidationError):  # 2100 in UTC
        INSTANT.validate_python(datetime(2099, 12, 31, 23, 30, tzinfo=west))
    with pytest.raises(ValidationError):
        INSTANT.validate_python("2026-03-02T10:00:00")  # still needs an offset


def test_days_from_1970_to_2099() -> None:
    assert DAY.validate_python("1970-01-01") == date(1970, 1, 1)
    assert DAY.validate_python("2099-12-31") == date(2099, 12, 31)
    for text in ("1969-12-31", "9999-12-31", "0001-01-01"):
        with pytest.raises(ValidationError, match="1970-01-01 to 2099-12-31"):
            DAY.validate_python(text)
