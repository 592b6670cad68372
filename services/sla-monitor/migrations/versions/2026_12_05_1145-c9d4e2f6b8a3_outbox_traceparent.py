"""outbox traceparent: the W3C trace context of the request or message that wrote a row

Revision ID: c9d4e2f6b8a3
Revises: 7d3c1a9e5b21
Create Date: 2026-12-05 11:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c9d4e2f6b8a3"
down_revision: str | None = "7d3c1a9e5b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _schema() -> str | None:
    # SQLite has no schemas: the service's tables are in the main database there.
    return None if op.get_bind().dialect.name == "sqlite" else "sla"


def upgrade() -> None:
    # Nullable, no default: adding it rewrites nothing, and rows written untraced keep null.
    op.add_column(
        "outbox_message",
        sa.Column("traceparent", sa.String(length=55), nullable=True),
        schema=_schema(),
    )


def downgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=_schema()) as batch:
        batch.drop_column("traceparent")
