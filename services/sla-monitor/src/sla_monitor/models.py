"""The tables sla-monitor owns, all in the `sla` schema."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Index, text
from sqlalchemy.orm import DeclarativeBase

from contact_common.db import TableModels, service_metadata
from contact_common.inbox import inbox_table
from contact_common.outbox import Outbox, outbox_table


class Base(TableModels, DeclarativeBase):
    """The declarative base of this service's models (a class statement, so mypy sees a class)."""

    metadata = service_metadata("sla")


metadata = Base.metadata

outbox_message = outbox_table(metadata)
outbox = Outbox(outbox_message)
inbox_message = inbox_table(metadata)


def partial_index(name: str, *columns: Column[Any], where: str) -> Index:
    """An index of the rows that match `where` only, alike on PostgreSQL and SQLite."""
    condition = text(where)
    return Index(name, *columns, postgresql_where=condition, sqlite_where=condition)
