"""corrections and voids

Revision ID: 9d2f4a6c8e13
Revises: 3b8e2f4a9c17
Create Date: 2026-12-05 12:00:00.000000

A complaint's count of corrections (of received_at, channel or service area) and its void: when,
why (duplicate, spam or test, and staff's words) and which complaint it duplicates.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import contact_common.db


revision: str = "9d2f4a6c8e13"
down_revision: str | None = "3b8e2f4a9c17"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _schema() -> str | None:
    # SQLite has no schemas: the service's tables are in the main database there.
    return None if op.get_bind().dialect.name == "sqlite" else "complaints"


def upgrade() -> None:
    columns = [
        sa.Column("correction_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("voided_at", contact_common.db.UTCDateTime(), nullable=True),
        sa.Column("void_reason_code", sa.String(length=16), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.Column("duplicate_of", sa.Uuid(), nullable=True),
    ]
    for column in columns:
        op.add_column("complaint", column, schema=_schema())


def downgrade() -> None:
    for name in (
        "duplicate_of",
        "void_reason",
        "void_reason_code",
        "voided_at",
        "correction_count",
    ):
        op.drop_column("complaint", name, schema=_schema())
