"""idempotency keys

Revision ID: 3b8e2f4a9c17
Revises: b3f2d1e5a6c7
Create Date: 2026-12-05 11:50:00.000000

`idempotency_key`: the Idempotency-Key of every POST (IETF httpapi draft), unique per API key,
method and path, with the answer a retry gets (contact_common.idempotency). Rows older than the
retention (48 h by default) are purged.
"""

from collections.abc import Sequence

import contact_common.db
import sqlalchemy as sa
from alembic import op

revision: str = "3b8e2f4a9c17"
down_revision: str | None = "b3f2d1e5a6c7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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
        schema="complaints",
    )
    op.create_index(
        "ix_idempotency_key_created_at",
        "idempotency_key",
        ["created_at"],
        unique=False,
        schema="complaints",
    )


def downgrade() -> None:
    op.drop_index(
        "ix_idempotency_key_created_at", table_name="idempotency_key", schema="complaints"
    )
    op.drop_table("idempotency_key", schema="complaints")
