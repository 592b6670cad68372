"""All SQL about the standby contractor's records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from enquiry_api import repository as shared
from enquiry_api.standby.models import StandbyRecord

_CHUNK = 500


async def insert_new(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Inserts the records new for their contractor; returns the record_ids inserted."""
    table = StandbyRecord.__table__
    return await shared.insert_new(
        session,
        table,
        rows,
        unique=[table.c.contractor_key_id, table.c.record_id],
        returning=table.c.record_id,
    )


async def link_enquiries(session: AsyncSession, links: dict[UUID, UUID]) -> None:
    """Records the follow-up enquiry of each standby record (record id -> enquiry id)."""
    if links:
        await session.execute(
            update(StandbyRecord),
            [{"id": record, "enquiry_id": enquiry} for record, enquiry in links.items()],
        )


async def follow_ups_of(
    session: AsyncSession, *, contractor_key_id: str, record_ids: Sequence[str]
) -> dict[str, UUID | None]:
    """The follow-up enquiry (or None) of each of a contractor's known records."""
    found: dict[str, UUID | None] = {}
    for start in range(0, len(record_ids), _CHUNK):
        statement = select(StandbyRecord.record_id, StandbyRecord.enquiry_id).where(
            StandbyRecord.contractor_key_id == contractor_key_id,
            StandbyRecord.record_id.in_(record_ids[start : start + _CHUNK]),
        )
        found.update({row[0]: row[1] for row in (await session.execute(statement)).all()})
    return found


async def find_for_erasure(
    session: AsyncSession, *, phone_digits: str | None, enquiry_ids: Sequence[UUID]
) -> Sequence[StandbyRecord]:
    """The records of a caller, by phone or by the enquiries they led to, locked."""
    conditions = [
        StandbyRecord.caller_phone_digits == phone_digits if phone_digits else None,
        StandbyRecord.enquiry_id.in_(enquiry_ids) if enquiry_ids else None,
    ]
    return await shared.lock_any(
        session, StandbyRecord, order_by=StandbyRecord.id, conditions=conditions
    )
