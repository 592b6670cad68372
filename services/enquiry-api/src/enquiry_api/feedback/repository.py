"""All SQL about feedback."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from enquiry_api import repository as shared
from enquiry_api.feedback.models import Feedback


async def insert_if_new(session: AsyncSession, row: dict[str, Any]) -> bool:
    """Inserts the feedback unless its response_id is known; True if it was inserted."""
    table = Feedback.__table__
    key = table.c.response_id
    return bool(await shared.insert_new(session, table, [row], unique=[key], returning=table.c.id))


async def by_response_id(session: AsyncSession, response_id: str) -> Feedback | None:
    """The feedback with the survey tool's id."""
    statement = select(Feedback).where(Feedback.response_id == response_id)
    return (await session.execute(statement)).scalar_one_or_none()
