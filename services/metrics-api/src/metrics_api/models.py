"""The tables metrics-api owns, all in the `metrics` schema."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import Table
from sqlalchemy.orm import DeclarativeBase

from contact_common.db import service_metadata
from contact_common.inbox import inbox_table


class Base(DeclarativeBase):
    """The declarative base of this service's models (a class statement, so mypy sees a class)."""

    metadata = service_metadata("metrics")

    if TYPE_CHECKING:
        # Each model maps a Table; DeclarativeBase types __table__ as any FromClause.
        __table__: ClassVar[Table]


metadata = Base.metadata

inbox_message = inbox_table(metadata)
