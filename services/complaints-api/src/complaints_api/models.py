"""The tables complaints-api owns, all in the `complaints` schema."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import Table
from sqlalchemy.orm import DeclarativeBase

from contact_common.db import service_metadata
from contact_common.idempotency import idempotency_table
from contact_common.outbox import Outbox, outbox_table


class Base(DeclarativeBase):
    """The declarative base of this service's models (a class statement, so mypy sees a class)."""

    metadata = service_metadata("complaints")

    if TYPE_CHECKING:
        # Each model maps a Table; DeclarativeBase types __table__ as any FromClause.
        __table__: ClassVar[Table]


metadata = Base.metadata

outbox_message = outbox_table(metadata)
outbox = Outbox(outbox_message)
# The Idempotency-Key of every POST, with the answer a retry gets (contact_common.idempotency).
idempotency_key = idempotency_table(metadata)
