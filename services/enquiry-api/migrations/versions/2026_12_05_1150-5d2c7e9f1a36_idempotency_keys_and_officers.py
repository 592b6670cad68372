"""idempotency keys and officers

Revision ID: 5d2c7e9f1a36
Revises: a7e1c0d4f2b1
Create Date: 2026-12-05 11:50:00.000000

`idempotency_key`: the Idempotency-Key of every POST (IETF httpapi draft), unique per API key,
method and path, with the answer a retry gets (contact_common.idempotency). Rows older than the
retention (48 h by default) are purged.

`enquiry_history.officer_id`: the officer who took a step, beside the API key. Indexes on
`enquiry.assignee_id` and `enquiry.customer_uprn` for the list's lookups.
"""

from collections.abc import Sequence

import contact_common.db
import sqlalchemy as sa
from alembic import op

revision: str = "5d2c7e9f1a36"
down_revision: str | None = "a7e1c0d4f2b1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _schema() -> str | None:
    # SQLite has no schemas: an ALTER is not rewritten by the engine's schema_translate_map as
    # CREATE TABLE is (as in sla-monitor's 62bfe4fefb30).
    return None if op.get_bind().dialect.name == "sqlite" else "enquiry"


def upgrade() -> None:
    op.create_table(
        "idempotency_key",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("api_key_id", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("claim_token", sa.Uuid(), nullable=False),
        sa.Column("created_at", contact_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", contact_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", contact_common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
        sa.Column("response_headers", sa.JSON(), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_key")),
        sa.UniqueConstraint(
            "api_key_id",
            "method",
            "path",
            "idempotency_key",
            name=op.f("uq_idempotency_key_api_key_id"),
        ),
        schema="enquiry",
    )
    op.create_index(
        "ix_idempotency_key_created_at",
        "idempotency_key",
        ["created_at"],
        unique=False,
        schema="enquiry",
    )
    op.add_column(
        "enquiry_history",
        sa.Column("officer_id", sa.String(length=64), nullable=True),
        schema=_schema(),
    )
    op.create_index(
        "ix_enquiry_assignee_id", "enquiry", ["assignee_id"], unique=False, schema="enquiry"
    )
    op.create_index(
        "ix_enquiry_customer_uprn", "enquiry", ["customer_uprn"], unique=False, schema="enquiry"
    )


def downgrade() -> None:
    op.drop_index("ix_enquiry_customer_uprn", table_name="enquiry", schema="enquiry")
    op.drop_index("ix_enquiry_assignee_id", table_name="enquiry", schema="enquiry")
    with op.batch_alter_table("enquiry_history", schema=_schema()) as batch:
        batch.drop_column("officer_id")
    op.drop_index("ix_idempotency_key_created_at", table_name="idempotency_key", schema="enquiry")
    op.drop_table("idempotency_key", schema="enquiry")
