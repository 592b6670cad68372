"""corrections and voids

Revision ID: 4b8e2c7d1f60
Revises: 5d2c7e9f1a36
Create Date: 2026-12-05 11:40:00.000000

An enquiry's count of corrections (of received_at, channel or service area) and its void: when,
why (duplicate, spam or test, and staff's words) and which enquiry it duplicates.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import contact_common.db


revision: str = "4b8e2c7d1f60"
down_revision: str | None = "5d2c7e9f1a36"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _schema() -> str | None:
    # SQLite has no schemas: the service's tables are in the main database there.
    return None if op.get_bind().dialect.name == "sqlite" else "enquiry"


def upgrade() -> None:
    columns = [
        sa.Column("correction_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("voided_at", contact_common.db.UTCDateTime(), nullable=True),
        sa.Column("void_reason_code", sa.String(length=16), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.Column("duplicate_of", sa.Uuid(), nullable=True),
    ]
    for column in columns:
        op.add_column("enquiry", column, schema=_schema())


def downgrade() -> None:
    for name in (
        "duplicate_of",
        "void_reason",
        "void_reason_code",
        "voided_at",
        "correction_count",
    ):
        op.drop_column("enquiry", name, schema=_schema())
