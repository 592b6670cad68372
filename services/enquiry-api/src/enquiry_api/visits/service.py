"""Recording reception visits: idempotent on the kiosk's visit id, with their events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.auth import Principal
from contact_common.events import (
    CloudEvent,
    VisitArrived,
    VisitArrivedData,
    VisitAttended,
    VisitAttendedData,
)
from enquiry_api.common import SOURCE, invalid, record_field, utc_now
from enquiry_api.config import Settings
from enquiry_api.enquiries.service import check_contact_records
from enquiry_api.models import outbox
from enquiry_api.visits import repository
from enquiry_api.visits.domain import VisitOutcome, outcome_of_repeat, wait_seconds
from enquiry_api.visits.models import Visit
from enquiry_api.visits.schemas import VisitBatchResult, VisitRecordIn, VisitResult


def _attended_event(visit: Visit) -> CloudEvent:
    assert visit.attended_at is not None
    return VisitAttended.from_data(
        VisitAttendedData(
            visit_id=visit.id,
            service_area=visit.service_area,
            arrived_at=visit.arrived_at,
            attended_at=visit.attended_at,
            wait_seconds=wait_seconds(visit.arrived_at, visit.attended_at),
            agent_id=visit.agent_id,
        ),
        source=SOURCE,
    )


async def record_visits(
    session: AsyncSession,
    *,
    records: Sequence[VisitRecordIn],
    single: bool,
    actor: Principal,
    settings: Settings,
) -> VisitBatchResult:
    """Records new visits and attendances, publishing visit.arrived and visit.attended."""
    await check_contact_records(session, records=records, single=single, settings=settings)
    now = utc_now()
    results: list[VisitResult] = []
    events: list[CloudEvent] = []
    for position, record in enumerate(records):
        if await repository.insert_if_new(session, _row(record, actor=actor, now=now)):
            visit = await repository.get_for_update(session, record.visit_id)
            assert visit is not None
            events.extend(_arrival_events(visit))
            outcome = VisitOutcome.created
        else:
            visit = await repository.get_for_update(session, record.visit_id)
            assert visit is not None
            field = record_field(position, "attended_at", single=single)
            outcome = _record_repeat(visit, record, field=field, now=now)
            if outcome is VisitOutcome.attended:
                events.append(_attended_event(visit))
        results.append(VisitResult(visit_id=record.visit_id, id=visit.id, status=outcome))
    await session.flush()
    await outbox.add_many(session, events)
    return VisitBatchResult(results=results)


def _row(record: VisitRecordIn, *, actor: Principal, now: datetime) -> dict[str, Any]:
    return {
        "id": uuid4(),
        "visit_id": record.visit_id,
        "arrived_at": record.arrived_at,
        "attended_at": record.attended_at,
        "wait_seconds": (
            wait_seconds(record.arrived_at, record.attended_at) if record.attended_at else None
        ),
        "service_area": record.service_area,
        "agent_id": record.agent_id,
        "enquiry_id": record.enquiry_id,
        "recorded_at": now,
        "updated_at": now,
        "recorded_by": actor.key_id,
    }


def _arrival_events(visit: Visit) -> list[CloudEvent]:
    """visit.arrived, and visit.attended if the visitor was seen already."""
    arrived = VisitArrived.from_data(
        VisitArrivedData(
            visit_id=visit.id, service_area=visit.service_area, arrived_at=visit.arrived_at
        ),
        source=SOURCE,
    )
    return [arrived] if visit.attended_at is None else [arrived, _attended_event(visit)]


def _record_repeat(
    visit: Visit, record: VisitRecordIn, *, field: str, now: datetime
) -> VisitOutcome:
    """A known visit posted again: adds its attendance the first time, else changes nothing."""
    outcome = outcome_of_repeat(
        known_attended=visit.attended_at is not None,
        posted_attended=record.attended_at is not None,
    )
    if outcome is not VisitOutcome.attended:
        return outcome
    assert record.attended_at is not None
    if record.attended_at < visit.arrived_at:
        raise invalid(
            field, f"attended_at is before the visitor arrived ({visit.arrived_at.isoformat()})"
        )
    visit.attended_at = record.attended_at
    visit.wait_seconds = wait_seconds(visit.arrived_at, record.attended_at)
    visit.agent_id = record.agent_id or visit.agent_id
    visit.service_area = record.service_area or visit.service_area
    visit.enquiry_id = record.enquiry_id or visit.enquiry_id
    visit.updated_at = now
    return outcome
