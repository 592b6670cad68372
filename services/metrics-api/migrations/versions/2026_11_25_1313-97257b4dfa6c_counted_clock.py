"""counted clock: where each SLA clock was counted, so a withdrawn breach can move to met

Revision ID: 97257b4dfa6c
Revises: 2c00550f2d8d
Create Date: 2026-11-25 13:13:07.486819
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "97257b4dfa6c"
down_revision: str | None = "2c00550f2d8d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _schema() -> str | None:
    # SQLite has no schemas (the engine's schema_translate_map does not reach a raw table()).
    return None if op.get_bind().dialect.name == "sqlite" else "metrics"


def upgrade() -> None:
    op.create_table(
        "counted_clock",
        sa.Column("clock_id", sa.Uuid(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("commitment", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("service_area", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("clock_id", name=op.f("pk_counted_clock")),
        schema="metrics",
    )
    # Clocks counted before: their outcome was not kept (a row with no outcome still counts once).
    counted_step = sa.table(
        "counted_step", sa.column("subject_id", sa.Uuid()), sa.column("step"), schema=_schema()
    )
    counted_clock = sa.table("counted_clock", sa.column("clock_id", sa.Uuid()), schema=_schema())
    op.execute(
        counted_clock.insert().from_select(
            ["clock_id"],
            sa.select(counted_step.c.subject_id).where(counted_step.c.step == "settled"),
        )
    )


def downgrade() -> None:
    op.drop_table("counted_clock", schema="metrics")
