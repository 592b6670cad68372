"""All SQL about reception visits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from enquiry_api import repository as shared
from enquiry_api.visits.models import Visit


async def insert_if_new(session: AsyncSession, row: dict[str, Any]) -> bool:
    """Inserts the visit unless its visit_id is known; True if it was inserted."""
    table = Visit.__table__
    key = table.c.visit_id
    return bool(await shared.insert_new(session, table, [row], unique=[key], returning=table.c.id))


async def get_for_update(session: AsyncSession, visit_id: str) -> Visit | None:
    """The visit with the kiosk's id, locked for the transaction."""
    statement = select(Visit).where(Visit.visit_id == visit_id).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()
