"""All the SQL of the worklist: the contacts' references and owners, and the open clocks.

`worklist_rows` is the one worklist query: the API, its CSV and the alerts' digest read it;
`owners_of` names a contact's reference and owner for a breach mail and a webhook.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.db import insert_for
from sla_monitor.clocks.domain import Status
from sla_monitor.clocks.models import clock
from sla_monitor.staff.models import staff
from sla_monitor.worklist.domain import (
    ContactFacts,
    ContactOwner,
    WorklistFilters,
    WorklistRow,
    WorkStatus,
    status_of,
)
from sla_monitor.worklist.models import contact

_PENDING = Status.pending.value
_EVERY = WorklistFilters()
_BREACHED = Status.breached.value


async def record_contacts(session: AsyncSession, facts: Sequence[ContactFacts]) -> None:
    """Keeps each contact's reference and its latest assignment (by the assignment's time)."""
    if not facts:
        return
    statement = insert_for(session, contact)
    new = statement.excluded
    later = and_(
        new.assigned_at.is_not(None),
        or_(contact.c.assigned_at.is_(None), new.assigned_at >= contact.c.assigned_at),
    )
    statement = statement.on_conflict_do_update(
        index_elements=[contact.c.subject],
        set_={
            "reference": func.coalesce(new.reference, contact.c.reference),
            "assignee_id": case((later, new.assignee_id), else_=contact.c.assignee_id),
            "assigned_at": case((later, new.assigned_at), else_=contact.c.assigned_at),
        },
    )
    await session.execute(
        statement,
        [
            {
                "subject": f.subject,
                "contact_type": f.contact_type,
                "reference": f.reference,
                "assignee_id": f.assignee_id,
                "assigned_at": f.assigned_at,
            }
            for f in facts
        ],
    )


async def owners_of(session: AsyncSession, subjects: Sequence[UUID]) -> dict[UUID, ContactOwner]:
    """The reference and owner (with the directory's name) of the contacts among `subjects`
    that sla-monitor has heard of."""
    if not subjects:
        return {}
    result = await session.execute(
        select(
            contact.c.subject,
            contact.c.reference,
            contact.c.assignee_id,
            staff.c.name,
            staff.c.team,
        )
        .select_from(contact.outerjoin(staff, staff.c.staff_id == contact.c.assignee_id))
        .where(contact.c.subject.in_(sorted(set(subjects))))
    )
    return {
        row.subject: ContactOwner(row.reference, row.assignee_id, row.name, row.team)
        for row in result
    }


def _status_condition(status: WorkStatus, now: datetime) -> ColumnElement[bool]:
    if status is WorkStatus.breached:
        return or_(
            and_(clock.c.status == _BREACHED, clock.c.stopped_at.is_(None)),
            and_(clock.c.status == _PENDING, clock.c.due_at < now),
        )
    running = and_(clock.c.status == _PENDING, clock.c.due_at >= now)
    if status is WorkStatus.at_risk:
        return and_(running, clock.c.at_risk_at <= now)
    return and_(running, clock.c.at_risk_at > now)


def _filtered(statement: Select[Any], filters: WorklistFilters, now: datetime) -> Select[Any]:
    statement = statement.select_from(
        clock.outerjoin(contact, contact.c.subject == clock.c.subject).outerjoin(
            staff, staff.c.staff_id == contact.c.assignee_id
        )
    ).where(
        # The partial index ix_clock_open_due's condition, written as it is.
        or_(
            clock.c.status == _PENDING,
            and_(clock.c.status == _BREACHED, clock.c.stopped_at.is_(None)),
        )
    )
    if filters.service_areas:
        statement = statement.where(clock.c.service_area.in_(sorted(filters.service_areas)))
    if filters.commitment is not None:
        statement = statement.where(clock.c.commitment == filters.commitment)
    if filters.assignee is not None:
        statement = statement.where(contact.c.assignee_id == filters.assignee)
    if filters.due_before is not None:
        statement = statement.where(clock.c.due_at < filters.due_before)
    if filters.statuses:
        statement = statement.where(
            or_(*(_status_condition(s, now) for s in sorted(filters.statuses)))
        )
    return statement


async def worklist_rows(
    session: AsyncSession,
    *,
    now: datetime,
    filters: WorklistFilters = _EVERY,
    after: tuple[datetime, UUID] | None = None,
    limit: int | None = None,
) -> list[WorklistRow]:
    """Open clocks (running, or breached with no stop) matching `filters`, earliest deadline
    first (then by clock id), after a (due_at, clock id) position; statuses as at `now`."""
    statement = _filtered(
        select(
            clock,
            contact.c.reference,
            contact.c.assignee_id,
            staff.c.name.label("assignee_name"),
            staff.c.team.label("assignee_team"),
        ),
        filters,
        now,
    )
    if after is not None:
        due_at, clock_id = after
        statement = statement.where(
            or_(clock.c.due_at > due_at, and_(clock.c.due_at == due_at, clock.c.id > clock_id))
        )
    statement = statement.order_by(clock.c.due_at, clock.c.id)
    if limit is not None:
        statement = statement.limit(limit)
    return [
        WorklistRow(
            clock_id=row.id,
            subject_type=row.contact_type,
            subject_id=row.subject,
            reference=row.reference,
            commitment=row.commitment,
            service_area=row.service_area,
            stage=row.stage,
            assignee_id=row.assignee_id,
            assignee_name=row.assignee_name,
            assignee_team=row.assignee_team,
            started_at=row.started_at,
            due_at=row.due_at,
            at_risk_at=row.at_risk_at,
            status=status_of(
                breached=row.status == _BREACHED,
                due_at=row.due_at,
                at_risk_at=row.at_risk_at,
                now=now,
            ),
        )
        for row in await session.execute(statement)
    ]


async def count_worklist(
    session: AsyncSession, *, now: datetime, filters: WorklistFilters = _EVERY
) -> int:
    """How many open clocks match `filters` in all (every page)."""
    statement = _filtered(select(func.count()), filters, now)
    return int(await session.scalar(statement) or 0)
