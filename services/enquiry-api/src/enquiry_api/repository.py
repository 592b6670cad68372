"""SQL shapes the domains' repositories share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Table
from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.db import insert_for


async def insert_new(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    unique: Sequence[Column[Any]],
    returning: Column[Any],
) -> set[Any]:
    """Inserts the rows whose `unique` columns are new; returns `returning` of those inserted.

    ON CONFLICT DO NOTHING makes two deliveries of one record racing each other safe: one wins.
    One statement executed with many parameter sets: SQLAlchemy compiles it once (cached) and
    sends multi-row VALUES pages ("insertmanyvalues"), instead of compiling a statement of
    thousands of bind parameters afresh for every chunk.
    """
    if not rows:
        return set()
    statement = (
        insert_for(session, table)
        .on_conflict_do_nothing(index_elements=list(unique))
        .returning(returning)
    )
    return set((await session.execute(statement, list(rows))).scalars().all())
