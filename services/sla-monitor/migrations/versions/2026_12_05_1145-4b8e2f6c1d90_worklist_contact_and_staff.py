"""worklist: each contact's reference and assignee, the staff directory, open clocks by deadline

Revision ID: 4b8e2f6c1d90
Revises: b4e1c7d2a9f3
Create Date: 2026-12-05 11:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import contact_common.db

revision: str = "4b8e2f6c1d90"
down_revision: str | None = "b4e1c7d2a9f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "status = 'pending' OR (status = 'breached' AND stopped_at IS NULL)"


def _schema() -> str | None:
    # SQLite has no schemas: the service's tables are in the main database there.
    return None if op.get_bind().dialect.name == "sqlite" else "sla"


def upgrade() -> None:
    schema = _schema()
    op.create_table(
        "contact",
        sa.Column("subject", sa.Uuid(), nullable=False),
        sa.Column("contact_type", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("assignee_id", sa.String(length=64), nullable=True),
        sa.Column("assigned_at", contact_common.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_contact")),
        schema=schema,
    )
    op.create_index(
        "ix_contact_assignee_id", "contact", ["assignee_id"], unique=False, schema=schema
    )
    op.create_table(
        "staff",
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("team", sa.String(length=100), nullable=False),
        sa.Column("team_email", sa.String(length=254), nullable=False),
        sa.Column("created_at", contact_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", contact_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_staff")),
        schema=schema,
    )
    op.create_index(
        "ix_clock_open_due",
        "clock",
        ["due_at", "id"],
        unique=False,
        schema=schema,
        postgresql_where=sa.text(_OPEN),
        sqlite_where=sa.text(_OPEN),
    )


def downgrade() -> None:
    schema = _schema()
    op.drop_index("ix_clock_open_due", table_name="clock", schema=schema)
    op.drop_table("staff", schema=schema)
    op.drop_index("ix_contact_assignee_id", table_name="contact", schema=schema)
    op.drop_table("contact", schema=schema)
