"""SQL shapes the domains' repositories share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Column, Table, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from contact_common.db import insert_for

T = TypeVar("T")


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


def email_is(
    column: InstrumentedAttribute[str | None], email: str | None
) -> ColumnElement[bool] | None:
    """The column holds this email, in any case; None (no condition) without an email."""
    return func.lower(column) == email.lower() if email else None


async def lock_any(
    session: AsyncSession,
    model: type[T],
    *,
    order_by: InstrumentedAttribute[Any],
    conditions: Sequence[ColumnElement[bool] | None],
) -> Sequence[T]:
    """The rows meeting any of the conditions (a None one is not given), locked for the
    transaction; none when no condition is given (an erasure finds a customer's rows so)."""
    given = [condition for condition in conditions if condition is not None]
    if not given:
        return []
    statement = select(model).where(or_(*given)).order_by(order_by).with_for_update()
    return (await session.execute(statement)).scalars().all()
