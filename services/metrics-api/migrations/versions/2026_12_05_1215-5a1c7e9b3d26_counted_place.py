"""counted place: where each counted step of a contact is counted, so corrections move it

Revision ID: 5a1c7e9b3d26
Revises: 97257b4dfa6c
Create Date: 2026-12-05 12:15:00

Steps counted before this table existed have no place: a correction or void of such a contact
moves or removes only what was counted after the upgrade (docs/decisions.md).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5a1c7e9b3d26"
down_revision: str | None = "97257b4dfa6c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "counted_place",
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.String(length=48), nullable=False),
        sa.Column("counter", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("service_area", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("subject_id", "step", name=op.f("pk_counted_place")),
        schema="metrics",
    )


def downgrade() -> None:
    op.drop_table("counted_place", schema="metrics")
