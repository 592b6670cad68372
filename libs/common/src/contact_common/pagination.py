"""The cursor of a list newest received first: the position after (received_at, id).

A cursor is opaque to clients: the URL-safe base64 (unpadded) of `<received_at ISO 8601>|<id>`.
Every service that pages by receipt gives out and reads back the same format, and takes the same
query parameters for the received range and the page size.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Query

from contact_common.instants import Instant

ReceivedFrom = Annotated[
    Instant | None, Query(description="Received at or after (ISO 8601 with offset).")
]
"""The `received_from` query parameter of a list."""
ReceivedTo = Annotated[Instant | None, Query(description="Received before (ISO 8601 with offset).")]
"""The `received_to` query parameter of a list."""
PageSize = Annotated[int, Query(ge=1, le=200, description="Page size, at most 200.")]
"""The `limit` query parameter of a list (give it its default)."""


class InvalidCursor(ValueError):
    """The cursor is not one this API gave out."""


def encode_cursor(received_at: datetime, id_: uuid.UUID | str) -> str:
    """An opaque cursor for the position after (received_at, id)."""
    raw = f"{received_at.isoformat()}|{id_}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (received_at, id) a cursor stands for; `InvalidCursor` if it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        received_text, id_text = base64.urlsafe_b64decode(padded).decode().split("|", 1)
        received_at = datetime.fromisoformat(received_text)
        id_ = uuid.UUID(id_text)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor(f"not a cursor: {cursor!r}") from exc
    if received_at.tzinfo is None:
        raise InvalidCursor(f"not a cursor (its time has no offset): {cursor!r}")
    return received_at, id_
