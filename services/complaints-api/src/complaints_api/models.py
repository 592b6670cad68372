"""The tables complaints-api owns, all in the `complaints` schema."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from contact_common.db import TableModels, service_metadata
from contact_common.idempotency import idempotency_table
from contact_common.outbox import Outbox, outbox_table


class Base(TableModels, DeclarativeBase):
    """The declarative base of this service's models (a class statement, so mypy sees a class)."""

    metadata = service_metadata("complaints")


metadata = Base.metadata

outbox_message = outbox_table(metadata)
outbox = Outbox(outbox_message)
# The Idempotency-Key of every POST, with the answer a retry gets (contact_common.idempotency).
idempotency_key = idempotency_table(metadata)
