"""Human references, PREFIX-YYYY-NNNNNN, numbered afresh each year and never issued twice.

PostgreSQL takes the numbers from a sequence per year (a function of the service's migration
creates it on the year's first use), which locks nothing until commit, so concurrent requests
do not wait for each other; a rolled-back transaction leaves a gap (docs/decisions.md). SQLite
has no sequences and one writer at a time, so there a counter row per year keeps the last
number. Each service keeps only its prefix, its counter table and its sequence function.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, TextClause
from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.db import insert_for, is_postgresql


def format_reference(prefix: str, year: int, number: int) -> str:
    """A human reference: ENQ-2026-000123 is number 123 of 2026."""
    return f"{prefix}-{year:04d}-{number:06d}"


@dataclass(frozen=True)
class ReferenceIssuer:
    """Issues one service's reference numbers (the service formats them with its prefix).

    `sequence` is the statement of the service's PostgreSQL function: it takes `:year` (and
    `:count`, if it reserves several at once) and returns the numbers, one a row. `counter` is
    the SQLite table of (year, last_number).
    """

    counter: Table
    sequence: TextClause

    async def reserve(self, session: AsyncSession, *, year: int, count: int = 1) -> list[int]:
        """`count` numbers of `year`, ascending, never issued before."""
        if is_postgresql(session):
            numbers = await session.execute(self.sequence, {"year": year, "count": count})
            return sorted(int(number) for number in numbers.scalars())
        table = self.counter
        statement = (
            insert_for(session, table)
            .values(year=year, last_number=count)
            .on_conflict_do_update(
                index_elements=[table.c.year], set_={"last_number": table.c.last_number + count}
            )
            .returning(table.c.last_number)
        )
        last = int((await session.execute(statement)).scalar_one())
        return list(range(last - count + 1, last + 1))
