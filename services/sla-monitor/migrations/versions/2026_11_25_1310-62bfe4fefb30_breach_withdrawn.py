"""breach withdrawn: when a breach flagged with no stop was withdrawn by a stop made in time

Revision ID: 62bfe4fefb30
Revises: 6fe658468eec
Create Date: 2026-11-25 13:10:07.100579
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import contact_common.db

revision: str = "62bfe4fefb30"
down_revision: str | None = "6fe658468eec"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _schema() -> str | None:
    # SQLite has no schemas: the service's tables are in the main database there (an ALTER is
    # not rewritten by the engine's schema_translate_map as CREATE TABLE is).
    return None if op.get_bind().dialect.name == "sqlite" else "sla"


def upgrade() -> None:
    op.add_column(
        "clock",
        sa.Column(
            "breach_withdrawn_at", contact_common.db.UTCDateTime(timezone=True), nullable=True
        ),
        schema=_schema(),
    )


def downgrade() -> None:
    with op.batch_alter_table("clock", schema=_schema()) as batch:
        batch.drop_column("breach_withdrawn_at")
