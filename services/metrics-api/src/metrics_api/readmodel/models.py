"""The read models: pre-aggregated daily counters, the open breaches, and what was counted once.

Every counter row is keyed by a local date (Europe/London, the council's calendar) and the
dimensions a KPI is broken down by, so a year's score card sums a few thousand rows and never
reads an event. An unknown service area is stored as "" (key columns cannot be null): the
counting rules (`domain.py`) count it so.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from sqlalchemy import Boolean, Column, Date, Float, Index, Integer, String, Table, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from contact_common.db import UTCDateTime
from metrics_api.models import Base


def _counter() -> Mapped[int]:
    return mapped_column(Integer, nullable=False, default=0, server_default="0")


def _seconds() -> Mapped[float]:
    return mapped_column(Float, nullable=False, default=0.0, server_default="0")


class EnquiryDay(Base):
    """Enquiries by the local date they were received: the cohort CX03 and CX04 are rates of."""

    __tablename__ = "enquiry_day"

    received_on: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    service_area: Mapped[str] = mapped_column(String(64), primary_key=True)
    opened: Mapped[int] = _counter()
    resolved: Mapped[int] = _counter()
    first_point: Mapped[int] = _counter()


class CallDay(Base):
    """Calls by the local date they were offered, and whether that was in office hours."""

    __tablename__ = "call_day"

    offered_on: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    service_area: Mapped[str] = mapped_column(String(64), primary_key=True)
    in_office_hours: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    offered: Mapped[int] = _counter()
    answered: Mapped[int] = _counter()
    answered_within_target: Mapped[int] = _counter()
    abandoned: Mapped[int] = _counter()
    short_abandoned: Mapped[int] = _counter()
    wait_seconds_sum: Mapped[float] = _seconds()
    wait_seconds_max: Mapped[float] = _seconds()


class CallWaitDay(Base):
    """Answered calls by offered date and whole seconds waited: 0..599, and 600 for 10 min+."""

    __tablename__ = "call_wait_day"

    offered_on: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    wait_second: Mapped[int] = mapped_column(Integer, primary_key=True)
    answered: Mapped[int] = _counter()


class VisitDay(Base):
    """Visits to reception by the local date the visitor arrived."""

    __tablename__ = "visit_day"

    arrived_on: Mapped[date] = mapped_column(Date, primary_key=True)
    service_area: Mapped[str] = mapped_column(String(64), primary_key=True)
    arrived: Mapped[int] = _counter()
    attended: Mapped[int] = _counter()
    attended_within_target: Mapped[int] = _counter()
    wait_seconds_sum: Mapped[float] = _seconds()
    wait_seconds_max: Mapped[float] = _seconds()


class FeedbackDay(Base):
    """Satisfaction scores by the local date they were given."""

    __tablename__ = "feedback_day"

    submitted_on: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    service_area: Mapped[str] = mapped_column(String(64), primary_key=True)
    responses: Mapped[int] = _counter()
    score_sum: Mapped[int] = _counter()


class ComplaintDay(Base):
    """Complaint steps per stage, each counted on the local date of the step it counts."""

    __tablename__ = "complaint_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    service_area: Mapped[str] = mapped_column(String(64), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16), primary_key=True)
    received: Mapped[int] = _counter()
    escalated_in: Mapped[int] = _counter()
    extended: Mapped[int] = _counter()
    decided: Mapped[int] = _counter()
    upheld: Mapped[int] = _counter()
    partly_upheld: Mapped[int] = _counter()
    not_upheld: Mapped[int] = _counter()


class SlaDay(Base):
    """Clocks met or breached, by the local date of their deadline."""

    __tablename__ = "sla_day"

    due_on: Mapped[date] = mapped_column(Date, primary_key=True)
    commitment: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    service_area: Mapped[str] = mapped_column(String(64), primary_key=True)
    met: Mapped[int] = _counter()
    breached: Mapped[int] = _counter()


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


def _monthly(model: type[Base]) -> Table:
    """The same counters summed by calendar month: the date column holds the month's first day.

    A financial year's score card reads twelve rows where the daily table has 365.
    """
    day_table: Table = model.__table__
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


MONTHLY: dict[str, Table] = {
    model.__tablename__: _monthly(model)
    for model in (EnquiryDay, CallDay, CallWaitDay, VisitDay, FeedbackDay, ComplaintDay, SlaDay)
}
"""The monthly table of each daily table, by the daily table's name."""
