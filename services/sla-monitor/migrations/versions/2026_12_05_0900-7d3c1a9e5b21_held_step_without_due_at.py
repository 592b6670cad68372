"""held step without due_at: an extension's deadline is the policy's calculation, not the event's

Revision ID: 7d3c1a9e5b21
Revises: 62bfe4fefb30
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import contact_common.db

revision: str = "7d3c1a9e5b21"
down_revision: str | None = "62bfe4fefb30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _schema() -> str | None:
    # SQLite has no schemas: the service's tables are in the main database there.
    return None if op.get_bind().dialect.name == "sqlite" else "sla"


def upgrade() -> None:
    with op.batch_alter_table("held_step", schema=_schema()) as batch:
        batch.drop_column("due_at")


def downgrade() -> None:
    op.add_column(
        "held_step",
        sa.Column("due_at", contact_common.db.UTCDateTime(timezone=True), nullable=True),
        schema=_schema(),
    )
