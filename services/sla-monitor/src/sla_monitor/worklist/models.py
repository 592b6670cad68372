"""What sla-monitor keeps about each contact besides its clocks: its reference and its owner."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table, Uuid

from contact_common.db import UTCDateTime
from sla_monitor.models import metadata

# One row per enquiry or complaint, from its events: the human reference (enquiry.opened,
# complaint.received) and the current assignee (the latest enquiry.assigned by its time).
contact = Table(
    "contact",
    metadata,
    Column("subject", Uuid, primary_key=True),
    Column("contact_type", String(16), nullable=False),
    Column("reference", String(64), nullable=True),
    Column("assignee_id", String(64), nullable=True),
    # The time of the assignment in force: a late-delivered earlier one does not replace it.
    Column("assigned_at", UTCDateTime, nullable=True),
)
Index("ix_contact_assignee_id", contact.c.assignee_id)
