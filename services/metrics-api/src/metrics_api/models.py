"""The tables metrics-api owns, all in the `metrics` schema."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from contact_common.db import TableModels, service_metadata
from contact_common.inbox import inbox_table


class Base(TableModels, DeclarativeBase):
    """The declarative base of this service's models (a class statement, so mypy sees a class)."""

    metadata = service_metadata("metrics")


metadata = Base.metadata

inbox_message = inbox_table(metadata)
