"""The alert teams, the mail queue, and the references of the contacts the clocks are about."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Integer,
    String,
    Table,
    Text,
    Time,
    Uuid,
    text,
    true,
)

from contact_common.db import UTCDateTime
from sla_monitor.models import metadata, partial_index

alert_team = Table(
    "alert_team",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("email", String(254), nullable=False),
    # A JSON list of service area slugs: a handful per team, read whole, never queried into.
    Column("service_areas", JSON, nullable=False),
    # A local wall time in `timezone`, not an instant: 08:00 is 08:00 in GMT and in BST.
    Column("digest_time", Time, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=true()),
    # The local day of the last scheduled digest: a restart the same day does not send again.
    Column("last_digest_on", Date, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# The outbox of mails: a breach's mail is written in the transaction that records the breach,
# a digest's with the team's last_digest_on, and a mailer sends them with retries.
alert_mail = Table(
    "alert_mail",
    metadata,
    # Derived (domain.breach_mail_id, digest_mail_id): a repeat is the same row, not another.
    Column("id", Uuid, primary_key=True),
    Column("team_id", Uuid, nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("recipient", String(254), nullable=False),
    Column("subject", String(400), nullable=False),
    Column("text_body", Text, nullable=False),
    Column("html_body", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", String(500), nullable=True),
    Column("sent_at", UTCDateTime, nullable=True),
    # Given up on (too many failures, or too old to be worth sending): kept for the record.
    Column("abandoned_at", UTCDateTime, nullable=True),
)
partial_index(
    "ix_alert_mail_unsent",
    alert_mail.c.next_attempt_at,
    where="sent_at IS NULL AND abandoned_at IS NULL",
)
