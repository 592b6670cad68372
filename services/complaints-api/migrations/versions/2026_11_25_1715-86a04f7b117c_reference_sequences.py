"""references from one PostgreSQL sequence per year

Revision ID: 86a04f7b117c
Revises: 5fe2afe39a49
Create Date: 2026-11-25 17:15:00

On PostgreSQL, complaint references come from `complaints.complaint_reference_<year>`
sequences, created on first use by `complaints.next_reference_number(year)`, instead of the row
lock of `reference_counter`, which made every POST /v1/complaints wait for the one before it to
commit (docs/decisions.md, "References come from a PostgreSQL sequence per year").
SQLite (`make run`) keeps the counter table: it has no sequences and one writer at a time anyway.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "86a04f7b117c"
down_revision: str | None = "5fe2afe39a49"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# enquiry-api's reserve_reference_numbers for one number at a time, which is all a complaint
# takes. The sequence of a year is created inside the transaction of that year's first
# complaint; a transaction racing it waits on the catalogue's unique index, finds the name
# taken, and uses the sequence once the first commits. The check before it keeps the hot path
# free of the subtransaction an EXCEPTION block costs.
NEXT_FUNCTION = """
CREATE FUNCTION complaints.next_reference_number(issue_year integer)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    sequence_name text := format('complaints.complaint_reference_%s', issue_year);
BEGIN
    IF to_regclass(sequence_name) IS NULL THEN
        BEGIN
            EXECUTE format('CREATE SEQUENCE %s AS bigint', sequence_name);
        EXCEPTION WHEN unique_violation OR duplicate_table THEN
            NULL;
        END;
    END IF;
    RETURN nextval(sequence_name::regclass);
END
$$
"""


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(NEXT_FUNCTION)
    # Each year already counted carries on from its last number, so no reference is reused.
    counters = op.get_bind().execute(
        sa.text("SELECT year, last_number FROM complaints.reference_counter")
    )
    for year, last_number in counters.all():
        op.execute(
            f"CREATE SEQUENCE complaints.complaint_reference_{int(year)} AS bigint "
            f"START WITH {int(last_number) + 1}"
        )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    # The counters take each sequence's last number; a sequence never used since it was
    # created (no last_value) leaves its year's counter as it was.
    sequences = op.get_bind().execute(
        sa.text(
            "SELECT sequencename, last_value FROM pg_sequences "
            "WHERE schemaname = 'complaints' "
            "AND sequencename LIKE 'complaint\\_reference\\_%'"
        )
    )
    for name, last_value in sequences.all():
        year = int(name.rsplit("_", 1)[1])
        if last_value is not None:
            op.execute(
                "INSERT INTO complaints.reference_counter (year, last_number) "
                f"VALUES ({year}, {int(last_value)}) "
                "ON CONFLICT (year) DO UPDATE SET last_number = excluded.last_number"
            )
        op.execute(f"DROP SEQUENCE complaints.{name}")
    op.execute("DROP FUNCTION complaints.next_reference_number(integer)")
