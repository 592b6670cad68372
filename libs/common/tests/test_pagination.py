"""The services' one cursor codec: round trips, the format clients hold, garbage refused."""

import base64
import uuid
from datetime import UTC, datetime

import pytest

from contact_common.pagination import InvalidCursor, decode_cursor, encode_cursor

AT = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
ID = uuid.UUID("0b8a0b5e-1d4c-4f0e-8f51-3a7d1c7c2f10")


def test_a_cursor_round_trips() -> None:
    assert decode_cursor(encode_cursor(AT, ID)) == (AT, ID)
    assert decode_cursor(encode_cursor(AT, str(ID))) == (AT, ID)


def test_the_format_is_unpadded_urlsafe_base64_of_time_and_id() -> None:
    raw = f"{AT.isoformat()}|{ID}".encode()
    held = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert encode_cursor(AT, ID) == held
    assert decode_cursor(held) == (AT, ID)


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!",
        encode_cursor(AT, ID)[:-3],
        encode_cursor(AT, "x"),
        encode_cursor(AT.replace(tzinfo=None), ID),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_what_is_not_a_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)
