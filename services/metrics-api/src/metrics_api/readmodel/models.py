"""The read models: pre-aggregated daily counters, the open breaches, and what was counted once.

Every counter row is keyed by a local date (Europe/London, the council's calendar) and the
dimensions a KPI is broken down by, so a year's score card sums a few thousand rows and never
reads an event. An unknown service area is stored as "" (key columns cannot be null): the
counting rules (`domain.py`) count it so.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import date, datetime
from typing import Any, get_type_hints
from uuid import UUID

from sqlalchemy import Boolean, Column, Date, Float, Index, Integer, String, Table, Uuid
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from contact_common.db import UTCDateTime
from metrics_api.models import Base
from metrics_api.readmodel.domain import (
    CallDayCounts,
    CallDayKey,
    CallWaitDayCounts,
    CallWaitDayKey,
    ComplaintDayCounts,
    ComplaintDayKey,
    CounterKey,
    Counts,
    EnquiryDayCounts,
    EnquiryDayKey,
    FeedbackDayCounts,
    FeedbackDayKey,
    SlaDayCounts,
    SlaDayKey,
    VisitDayCounts,
    VisitDayKey,
)

_KEY_STRINGS = {"channel": 32, "service_area": 64, "stage": 16, "commitment": 64}
"""The length of each text key column."""

_SQL_TYPES: dict[type, type[TypeEngine[Any]]] = {
    date: Date,
    bool: Boolean,
    int: Integer,
    float: Float,
}


def _key_column(name: str, python_type: type) -> Column[Any]:
    sql_type = String(_KEY_STRINGS[name]) if python_type is str else _SQL_TYPES[python_type]()
    return Column(name, sql_type, primary_key=True)


def _counter_column(name: str, python_type: type) -> Column[Any]:
    # Whole counts are integers, seconds floats; every counter starts at 0.
    return Column(
        name,
        _SQL_TYPES[python_type](),
        nullable=False,
        default=python_type(0),
        server_default="0",
    )


def _counter_table(name: str, key: type[CounterKey], counts: type[Counts]) -> Table:
    """A counter table: the key's fields as its primary key, the counts' as its counters, by
    name and type (a typed row is written to it as it is)."""
    key_types, count_types = get_type_hints(key), get_type_hints(counts)
    return Table(
        name,
        Base.metadata,
        *(_key_column(f.name, key_types[f.name]) for f in fields(key)),
        *(_counter_column(f.name, count_types[f.name]) for f in fields(counts)),
    )


COUNTERS: dict[type[CounterKey], Table] = {
    # Every key leads with its local date (Europe/London), then the dimensions a KPI is broken
    # down by; the domain's row types say what each table counts.
    key: _counter_table(name, key, counts)
    for name, key, counts in (
        ("enquiry_day", EnquiryDayKey, EnquiryDayCounts),
        ("call_day", CallDayKey, CallDayCounts),
        ("call_wait_day", CallWaitDayKey, CallWaitDayCounts),
        ("visit_day", VisitDayKey, VisitDayCounts),
        ("feedback_day", FeedbackDayKey, FeedbackDayCounts),
        ("complaint_day", ComplaintDayKey, ComplaintDayCounts),
        ("sla_day", SlaDayKey, SlaDayCounts),
    )
}
"""The daily counter table of each kind of counter row."""

COUNTER_TABLES: dict[str, Table] = {table.name: table for table in COUNTERS.values()}
"""The daily counter tables by name."""


class OpenBreach(Base):
    """A breached clock with no stop yet: someone still has to chase it."""

    __tablename__ = "open_breach"
    __table_args__ = (Index("ix_open_breach_commitment_due_at", "commitment", "due_at"),)

    clock_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    commitment: Mapped[str] = mapped_column(String(64), nullable=False)
    contact_type: Mapped[str] = mapped_column(String(16), nullable=False)
    contact_id: Mapped[UUID] = mapped_column(Uuid, nullable=False, index=True)
    channel: Mapped[str] = mapped_column(String(32), nullable=False)
    service_area: Mapped[str] = mapped_column(String(64), nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    breached_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class CountedClock(Base):
    """An SLA clock counted in `sla_day`, and where: its outcome and the row's key.

    Each clock counts once; a breach withdrawn later (an sla.met correcting it: the stop, made
    in time, was recorded after the breach was flagged) moves from the breached count it was
    added to, to met. A row with no outcome was counted before this record was kept.
    """

    __tablename__ = "counted_clock"

    clock_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    commitment: Mapped[str | None] = mapped_column(String(64), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    service_area: Mapped[str | None] = mapped_column(String(64), nullable=True)


class CountedStep(Base):
    """A step of a contact that has been counted (e.g. an enquiry's resolution): once only.

    The inbox stops an event delivered twice; this stops two events meaning one thing (an
    enquiry resolved again after a reopen, a call's outcome sent by telephony and contractor).
    """

    __tablename__ = "counted_step"

    subject_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    step: Mapped[str] = mapped_column(String(48), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class CountedPlace(Base):
    """Where a contact's counted step is counted: its counter row's key (and a decision's
    outcome), so a correction moves it to the row of the corrected facts and a void removes
    it, exactly, from the daily and the monthly tables."""

    __tablename__ = "counted_place"

    subject_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    step: Mapped[str] = mapped_column(String(48), primary_key=True)
    counter: Mapped[str] = mapped_column(String(32), nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    channel: Mapped[str] = mapped_column(String(32), nullable=False)
    service_area: Mapped[str] = mapped_column(String(64), nullable=False)
    stage: Mapped[str | None] = mapped_column(String(16), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)


def _monthly(day_table: Table) -> Table:
    """The same counters summed by calendar month: the date column holds the month's first day.

    A financial year's score card reads twelve rows where the daily table has 365.
    """
    name = day_table.name.removesuffix("_day") + "_month"
    return Table(
        name,
        Base.metadata,
        *(
            Column(
                column.name,
                column.type,
                primary_key=column.primary_key,
                nullable=column.nullable,
                # A server_default given as a value is a DefaultClause, typed as FetchedValue.
                server_default=column.server_default.arg if column.server_default else None,  # type: ignore[attr-defined]
            )
            for column in day_table.columns
        ),
    )


MONTHLY: dict[str, Table] = {name: _monthly(table) for name, table in COUNTER_TABLES.items()}
"""The monthly table of each daily table, by the daily table's name."""
