"""The clocks sla-monitor keeps, and the steps it holds for clocks not started yet."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    false,
)

from contact_common.db import UTCDateTime
from sla_monitor.models import metadata, partial_index


def _contact_facts() -> list[Column[Any]]:
    """The contact's facts a clock and a held step both keep (new columns for each table)."""
    return [
        Column("contact_type", String(16), nullable=False),
        Column("channel", String(32), nullable=False),
        Column("service_area", String(64), nullable=True),
        Column("stage", String(16), nullable=True),
    ]


clock = Table(
    "clock",
    metadata,
    # Derived from (commitment, subject, sequence): see domain.clock_id.
    Column("id", Uuid, primary_key=True),
    Column("commitment", String(64), nullable=False),
    Column("subject", Uuid, nullable=False),
    Column("sequence", Integer, nullable=False),
    # The contact.events partition of the subject: its timers belong to that partition's owner.
    Column("partition", SmallInteger, nullable=False),
    *_contact_facts(),
    Column("started_at", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("at_risk_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("stopped_at", UTCDateTime, nullable=True),
    Column("breached_at", UTCDateTime, nullable=True),
    # When this service flagged the breach (wall clock): the measure of "within a second".
    Column("flagged_at", UTCDateTime, nullable=True),
    Column("at_risk_published", Boolean, nullable=False, server_default=false()),
    Column("extended_at", UTCDateTime, nullable=True),
    # When a breach flagged with no stop was withdrawn because the stop recorded afterwards was
    # made by the deadline (wall clock); the clock is then met and its breached_at cleared.
    Column("breach_withdrawn_at", UTCDateTime, nullable=True),
    # Decisions withdrawn by a correction or a void of the contact (see domain.revise): the
    # notices after one are new events, not repeats of those withdrawn.
    Column("revision", Integer, nullable=False, server_default="0"),
    UniqueConstraint("commitment", "subject", "sequence", name="uq_clock_commitment_subject"),
)
# The timers read running clocks of their partitions by deadline; only those are indexed.
partial_index("ix_clock_pending_due", clock.c.partition, clock.c.due_at, where="status = 'pending'")
partial_index(
    "ix_clock_pending_at_risk",
    clock.c.partition,
    clock.c.at_risk_at,
    where="status = 'pending' AND NOT at_risk_published",
)
Index("ix_clock_subject", clock.c.subject)
# The worklist reads open clocks (running, or breached with no stop yet) by deadline.
_OPEN = "status = 'pending' OR (status = 'breached' AND stopped_at IS NULL)"
partial_index("ix_clock_open_due", clock.c.due_at, clock.c.id, where=_OPEN)
partial_index("ix_clock_breach", clock.c.breached_at, clock.c.id, where="status = 'breached'")

held_step = Table(
    "held_step",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("subject", Uuid, nullable=False, index=True),
    Column("event_type", String(100), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    *_contact_facts(),
    Column("sequence", Integer, nullable=False),
    Column("working_days", SmallInteger, nullable=True),
)
