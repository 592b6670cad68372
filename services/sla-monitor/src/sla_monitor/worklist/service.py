"""The worklist: a page of open clocks as at the service's time, and the contacts' facts."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.calendar import WorkingCalendar
from contact_common.errors import ProblemError
from contact_common.events import CloudEvent
from sla_monitor.worklist import repository
from sla_monitor.worklist.domain import (
    Due,
    WorklistFilters,
    WorklistRow,
    WorkStatus,
    contact_facts,
    due_before,
)


@dataclass(frozen=True, slots=True)
class WorklistPage:
    """A page of rows, the cursor after it (None on the last), and the total over all pages."""

    as_of: datetime
    rows: list[WorklistRow]
    next_cursor: str | None
    total: int


async def record_contact_facts(session: AsyncSession, *, events: Sequence[CloudEvent]) -> None:
    """Keeps the references and assignees these events carry (the consumer's batch)."""
    await repository.record_contacts(session, contact_facts(list(events)))


def encode_cursor(row: WorklistRow) -> str:
    """An opaque cursor after `row`."""
    raw = orjson.dumps([row.due_at.isoformat(), str(row.clock_id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """The (due_at, clock id) position a cursor stands for; 422 for one not issued here."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, clock_id = orjson.loads(raw)
        position = datetime.fromisoformat(at), UUID(clock_id)
        if position[0].tzinfo is None:
            raise ValueError("a cursor's instant has an offset")
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError) as exc:
        raise ProblemError(
            422,
            "cursor is not one this service issued; use next_cursor from a previous page",
            problem="invalid-cursor",
            field="query.cursor",
        ) from exc
    return position


async def worklist_page(
    session: AsyncSession,
    *,
    calendar: WorkingCalendar,
    now: datetime,
    due: Due,
    service_areas: Sequence[str],
    assignee: str | None,
    commitment: str | None,
    statuses: Sequence[WorkStatus],
    cursor: str | None,
    limit: int,
) -> WorklistPage:
    """Open clocks matching the filters, earliest deadline first, one page after `cursor`."""
    filters = WorklistFilters(
        service_areas=frozenset(service_areas),
        assignee=assignee,
        commitment=commitment,
        statuses=frozenset(statuses),
        due_before=due_before(due, now=now, timezone=calendar.timezone),
    )
    after = decode_cursor(cursor) if cursor else None
    rows = await repository.worklist_rows(
        session, now=now, filters=filters, after=after, limit=limit + 1
    )
    total = await repository.count_worklist(session, now=now, filters=filters)
    if len(rows) > limit:
        return WorklistPage(now, rows[:limit], encode_cursor(rows[limit - 1]), total)
    return WorklistPage(now, rows, None, total)
