"""The staff directory: who an assignee's staff id is, and the team's shared mailbox."""

from __future__ import annotations

from sqlalchemy import Column, String, Table

from contact_common.db import UTCDateTime
from sla_monitor.models import metadata

# Staff are council officers, not residents: the residents' erasure rules do not reach here.
staff = Table(
    "staff",
    metadata,
    Column("staff_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("team", String(100), nullable=False),
    Column("team_email", String(254), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
