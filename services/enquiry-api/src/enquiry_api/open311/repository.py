"""All SQL about the updates residents post on Open311 requests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from enquiry_api import repository as shared
from enquiry_api.open311.models import ResidentUpdate


async def insert_new(session: AsyncSession, row: dict[str, Any]) -> int | None:
    """Inserts an update unless its sender has one with its update_id; the new row's id or None.

    ON CONFLICT rather than a look-up first: two posts of one update_id racing on different
    requests would otherwise both pass the look-up, and one fail on the unique constraint.
    """
    table = ResidentUpdate.__table__
    unique = [table.c.sender_key_id, table.c.sender_update_id]
    inserted = await shared.insert_new(session, table, [row], unique=unique, returning=table.c.id)
    return next(iter(inserted), None)


async def link_history(session: AsyncSession, *, update_id: int, history_id: int) -> None:
    """Records the history entry of an update."""
    await session.execute(
        update(ResidentUpdate).where(ResidentUpdate.id == update_id).values(history_id=history_id)
    )


async def get_by_sender(
    session: AsyncSession, *, sender_key_id: str, sender_update_id: str
) -> ResidentUpdate | None:
    """A sender's update by the sender's own update_id."""
    statement = select(ResidentUpdate).where(
        ResidentUpdate.sender_key_id == sender_key_id,
        ResidentUpdate.sender_update_id == sender_update_id,
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def by_history(
    session: AsyncSession, history_ids: Sequence[int]
) -> dict[int, ResidentUpdate]:
    """The updates of these history entries, by history id."""
    if not history_ids:
        return {}
    statement = select(ResidentUpdate).where(ResidentUpdate.history_id.in_(set(history_ids)))
    return {
        row.history_id: row
        for row in (await session.execute(statement)).scalars()
        if row.history_id is not None
    }


async def find_for_erasure(
    session: AsyncSession,
    *,
    enquiry_ids: Sequence[UUID],
    email: str | None,
    phone_digits: str | None,
) -> Sequence[ResidentUpdate]:
    """The updates on these enquiries, or written with this email or phone, locked."""
    conditions = [
        ResidentUpdate.enquiry_id.in_(enquiry_ids) if enquiry_ids else None,
        shared.email_is(ResidentUpdate.email, email),
        ResidentUpdate.phone_digits == phone_digits if phone_digits else None,
    ]
    return await shared.lock_any(
        session, ResidentUpdate, order_by=ResidentUpdate.id, conditions=conditions
    )
