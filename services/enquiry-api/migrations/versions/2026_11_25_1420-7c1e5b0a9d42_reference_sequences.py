"""references from one PostgreSQL sequence per year

Revision ID: 7c1e5b0a9d42
Revises: 95c66a9e2f73
Create Date: 2026-11-25 14:20:00

On PostgreSQL, enquiry references come from `enquiry.enquiry_reference_<year>` sequences,
created on first use by `enquiry.reserve_reference_numbers(year, count)`, instead of the row
lock of `enquiry_reference_counter`, which made every POST /v1/enquiries wait for the one
before it to commit (docs/decisions.md, "References come from a PostgreSQL sequence per year").
SQLite (`make run`) keeps the counter table: it has no sequences and one writer at a time anyway.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c1e5b0a9d42"
down_revision: str | None = "95c66a9e2f73"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The sequence of a year is created inside the transaction of that year's first enquiry; a
# transaction racing it waits on the catalogue's unique index, finds the name taken, and uses
# the sequence once the first commits. The check before it keeps the hot path free of the
# subtransaction an EXCEPTION block costs.
RESERVE_FUNCTION = """
CREATE FUNCTION enquiry.reserve_reference_numbers(issue_year integer, how_many integer)
RETURNS SETOF bigint
LANGUAGE plpgsql
AS $$
DECLARE
    sequence_name text := format('enquiry.enquiry_reference_%s', issue_year);
BEGIN
    IF to_regclass(sequence_name) IS NULL THEN
        BEGIN
            EXECUTE format('CREATE SEQUENCE %s AS bigint', sequence_name);
        EXCEPTION WHEN unique_violation OR duplicate_table THEN
            NULL;
        END;
    END IF;
    RETURN QUERY SELECT nextval(sequence_name::regclass) FROM generate_series(1, how_many);
END
$$
"""


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(RESERVE_FUNCTION)
    # Each year already counted carries on from its last number.
    counters = op.get_bind().execute(
        sa.text("SELECT year, last_number FROM enquiry.enquiry_reference_counter")
    )
    for year, last_number in counters.all():
        op.execute(
            f"CREATE SEQUENCE enquiry.enquiry_reference_{int(year)} AS bigint "
            f"START WITH {int(last_number) + 1}"
        )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    sequences = op.get_bind().execute(
        sa.text(
            "SELECT sequencename, last_value FROM pg_sequences "
            "WHERE schemaname = 'enquiry' AND sequencename LIKE 'enquiry\\_reference\\_%'"
        )
    )
    for name, last_value in sequences.all():
        year = int(name.rsplit("_", 1)[1])
        if last_value is not None:
            op.execute(
                "INSERT INTO enquiry.enquiry_reference_counter (year, last_number) "
                f"VALUES ({year}, {int(last_value)}) "
                "ON CONFLICT (year) DO UPDATE SET last_number = excluded.last_number"
            )
        op.execute(f"DROP SEQUENCE enquiry.{name}")
    op.execute("DROP FUNCTION enquiry.reserve_reference_numbers(integer, integer)")
