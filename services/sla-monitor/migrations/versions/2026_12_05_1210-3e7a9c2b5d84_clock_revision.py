"""clock revision: a clock decided again after its contact was corrected or voided

Revision ID: 3e7a9c2b5d84
Revises: 4b8e2f6c1d90
Create Date: 2026-12-05 12:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3e7a9c2b5d84"
down_revision: str | None = "4b8e2f6c1d90"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _schema() -> str | None:
    # SQLite has no schemas: the service's tables are in the main database there.
    return None if op.get_bind().dialect.name == "sqlite" else "sla"


def upgrade() -> None:
    op.add_column(
        "clock",
        sa.Column("revision", sa.Integer(), server_default="0", nullable=False),
        schema=_schema(),
    )


def downgrade() -> None:
    with op.batch_alter_table("clock", schema=_schema()) as batch:
        batch.drop_column("revision")
