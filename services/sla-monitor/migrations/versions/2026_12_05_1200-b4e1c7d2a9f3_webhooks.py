"""webhooks: subscriptions to sla.* events, their deliveries and the attempts of each

Revision ID: b4e1c7d2a9f3
Revises: a1e7c0d3b9f2
Create Date: 2026-12-05 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import contact_common.db

revision: str = "b4e1c7d2a9f3"
down_revision: str | None = "a1e7c0d3b9f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _schema() -> str | None:
    # SQLite has no schemas: the service's tables are in the main database there.
    return None if op.get_bind().dialect.name == "sqlite" else "sla"


def upgrade() -> None:
    schema = _schema()
    moment = contact_common.db.UTCDateTime(timezone=True)
    op.create_table(
        "webhook_subscription",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("service_areas", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("created_at", moment, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscription")),
        schema=schema,
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("retry_from", moment, nullable=False),
        sa.Column("next_attempt_at", moment, nullable=True),
        sa.Column("last_attempt_at", moment, nullable=True),
        sa.Column("last_status_code", sa.SmallInteger(), nullable=True),
        sa.Column("delivered_at", moment, nullable=True),
        sa.Column("failed_at", moment, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
        sa.UniqueConstraint("subscription_id", "event_id", name="uq_webhook_delivery_event"),
        schema=schema,
    )
    op.create_index(
        "ix_webhook_delivery_due",
        "webhook_delivery",
        ["next_attempt_at"],
        schema=schema,
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_webhook_delivery_subscription",
        "webhook_delivery",
        ["subscription_id", "created_at"],
        schema=schema,
    )
    op.create_table(
        "webhook_attempt",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("attempted_at", moment, nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            [f"{schema}.webhook_delivery.id" if schema else "webhook_delivery.id"],
            name=op.f("fk_webhook_attempt_delivery_id_webhook_delivery"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempt")),
        schema=schema,
    )
    op.create_index(
        "ix_webhook_attempt_delivery",
        "webhook_attempt",
        ["delivery_id"],
        schema=schema,
    )


def downgrade() -> None:
    schema = _schema()
    op.drop_table("webhook_attempt", schema=schema)
    op.drop_table("webhook_delivery", schema=schema)
    op.drop_table("webhook_subscription", schema=schema)
