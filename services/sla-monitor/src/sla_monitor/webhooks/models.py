"""Webhook subscriptions, their deliveries (an outbox of HTTP calls) and their attempts."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)

from contact_common.db import UTCDateTime
from sla_monitor.models import metadata, partial_index

webhook_subscription = Table(
    "webhook_subscription",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("url", Text, nullable=False),
    Column("description", String(200), nullable=True),
    # JSON lists, not PostgreSQL arrays: `make run` keeps sla-monitor in SQLite. Matching is done
    # in Python (domain.matches) on the few subscriptions there are.
    Column("event_types", JSON, nullable=False),
    Column("service_areas", JSON, nullable=False),
    # The signing key must be read to sign, so it is kept as given (whsec_...); it is shown once,
    # when the subscription is made, and never again by the API.
    Column("secret", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# No foreign key to the subscription: a delivery is written in the transaction of a clock's
# change, and must never fail it because the subscription was removed at that moment. The worker
# only claims deliveries whose subscription still exists; removal deletes the rest.
webhook_delivery = Table(
    "webhook_delivery",
    metadata,
    # The `webhook-id` header: one per (subscription, sla.* event), stable across attempts.
    Column("id", Uuid, primary_key=True),
    Column("subscription_id", Uuid, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("event_type", String(100), nullable=False),
    # The body exactly as signed and sent, fixed when the delivery is made.
    Column("payload", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),  # pending, delivered, failed
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("created_at", UTCDateTime, nullable=False),
    # Retries stop (failed) once a failed attempt is this old; a redelivery starts it again.
    Column("retry_from", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("last_attempt_at", UTCDateTime, nullable=True),
    Column("last_status_code", SmallInteger, nullable=True),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("failed_at", UTCDateTime, nullable=True),
    UniqueConstraint("subscription_id", "event_id", name="uq_webhook_delivery_event"),
)
# The worker reads pending deliveries by due time; only those are indexed.
partial_index(
    "ix_webhook_delivery_due", webhook_delivery.c.next_attempt_at, where="status = 'pending'"
)
Index(
    "ix_webhook_delivery_subscription",
    webhook_delivery.c.subscription_id,
    webhook_delivery.c.created_at,
)

webhook_attempt = Table(
    "webhook_attempt",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column(
        "delivery_id",
        Uuid,
        ForeignKey("webhook_delivery.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("attempted_at", UTCDateTime, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("status_code", SmallInteger, nullable=True),
    # delivered, failed (a non-2xx answer), timeout, error (no answer), refused (SSRF guard)
    Column("outcome", String(16), nullable=False),
    Column("error", String(500), nullable=True),
)
Index("ix_webhook_attempt_delivery", webhook_attempt.c.delivery_id)
