"""All the SQL of the staff directory."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.db import insert_for
from sla_monitor.staff.models import staff


async def get(session: AsyncSession, staff_id: str) -> dict[str, Any] | None:
    """One member of staff, or None."""
    row = (await session.execute(select(staff).where(staff.c.staff_id == staff_id))).first()
    return dict(row._mapping) if row else None


async def all_staff(session: AsyncSession) -> list[dict[str, Any]]:
    """Everyone in the directory, by staff id."""
    result = await session.execute(select(staff).order_by(staff.c.staff_id))
    return [dict(row._mapping) for row in result]


async def add(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Adds a member of staff; False if the id is taken (no error: two adds may race)."""
    result = await session.execute(
        insert_for(session, staff).values(**values).on_conflict_do_nothing()
    )
    # An INSERT/UPDATE/DELETE runs on a cursor; execute()'s generic Result has no rowcount.
    return bool(cast(CursorResult[Any], result).rowcount)


async def change(session: AsyncSession, staff_id: str, values: dict[str, Any]) -> bool:
    """Replaces a member of staff's details; False if there is no such member."""
    result = await session.execute(
        update(staff).where(staff.c.staff_id == staff_id).values(**values)
    )
    # An INSERT/UPDATE/DELETE runs on a cursor; execute()'s generic Result has no rowcount.
    return bool(cast(CursorResult[Any], result).rowcount)


async def remove(session: AsyncSession, staff_id: str) -> bool:
    """Removes a member of staff; False if there was none."""
    result = await session.execute(delete(staff).where(staff.c.staff_id == staff_id))
    # An INSERT/UPDATE/DELETE runs on a cursor; execute()'s generic Result has no rowcount.
    return bool(cast(CursorResult[Any], result).rowcount)
