"""alert teams, the alert mail queue and contact references

Revision ID: a1e7c0d3b9f2
Revises: c9d4e2f6b8a3
Create Date: 2026-12-05 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import contact_common.db

revision: str = "a1e7c0d3b9f2"
down_revision: str | None = "c9d4e2f6b8a3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSENT = "sent_at IS NULL AND abandoned_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "alert_team",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("service_areas", sa.JSON(), nullable=False),
        sa.Column("digest_time", sa.Time(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("last_digest_on", sa.Date(), nullable=True),
        sa.Column("created_at", contact_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", contact_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_team")),
        sa.UniqueConstraint("name", name=op.f("uq_alert_team_name")),
        schema="sla",
    )
    op.create_table(
        "alert_mail",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=400), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("created_at", contact_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", contact_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("sent_at", contact_common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("abandoned_at", contact_common.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_mail")),
        schema="sla",
    )
    op.create_index(
        op.f("ix_sla_alert_mail_team_id"), "alert_mail", ["team_id"], unique=False, schema="sla"
    )
    op.create_index(
        "ix_alert_mail_unsent",
        "alert_mail",
        ["next_attempt_at"],
        unique=False,
        schema="sla",
        postgresql_where=sa.text(UNSENT),
        sqlite_where=sa.text(UNSENT),
    )
    op.create_table(
        "contact_reference",
        sa.Column("subject", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_contact_reference")),
        schema="sla",
    )


def downgrade() -> None:
    op.drop_table("contact_reference", schema="sla")
    op.drop_index("ix_alert_mail_unsent", table_name="alert_mail", schema="sla")
    op.drop_index(op.f("ix_sla_alert_mail_team_id"), table_name="alert_mail", schema="sla")
    op.drop_table("alert_mail", schema="sla")
    op.drop_table("alert_team", schema="sla")
