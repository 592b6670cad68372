"""All SQL about call records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from enquiry_api import repository as shared
from enquiry_api.calls.models import CallRecord

_CHUNK = 500


async def insert_new(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Inserts the rows whose call_id is new; returns the call_ids that were inserted."""
    table = CallRecord.__table__
    return await shared.insert_new(
        session, table, rows, unique=[table.c.call_id], returning=table.c.call_id
    )


async def ids_of(session: AsyncSession, call_ids: Sequence[str]) -> dict[str, UUID]:
    """Our id of each recorded call_id."""
    found: dict[str, UUID] = {}
    for start in range(0, len(call_ids), _CHUNK):
        chunk = call_ids[start : start + _CHUNK]
        statement = select(CallRecord.call_id, CallRecord.id).where(CallRecord.call_id.in_(chunk))
        found.update({row[0]: row[1] for row in (await session.execute(statement)).all()})
    return found
