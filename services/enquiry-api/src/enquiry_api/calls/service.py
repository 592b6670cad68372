"""Recording telephony call records: idempotent on the platform's call id, with their events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.auth import Principal
from contact_common.events import (
    CallAbandoned,
    CallAbandonedData,
    CallAnswered,
    CallAnsweredData,
    CallOffered,
    CallOfferedData,
    Channel,
    CloudEvent,
)
from enquiry_api.calls import repository
from enquiry_api.calls.domain import first_of_each, wait_seconds
from enquiry_api.calls.schemas import CallBatchResult, CallRecordIn, CallResult
from enquiry_api.common import SOURCE, utc_now
from enquiry_api.config import Settings
from enquiry_api.enquiries.service import check_contact_records
from enquiry_api.models import outbox

# What a call record tells its events, by call_events' names.
_CALL_FACTS = {
    "queue",
    "service_area",
    "offered_at",
    "answered_at",
    "abandoned_at",
    "agent_id",
    "ended_at",
}


def call_events(
    *,
    call_uuid: UUID,
    channel: Channel,
    queue: str | None,
    service_area: str | None,
    offered_at: datetime,
    answered_at: datetime | None,
    abandoned_at: datetime | None = None,
    agent_id: str | None = None,
    ended_at: datetime | None = None,
) -> list[CloudEvent]:
    """call.offered, then call.answered or call.abandoned, at the times given."""
    common: dict[str, Any] = {
        "call_id": call_uuid,
        "channel": channel,
        "queue": queue,
        "service_area": service_area,
        "offered_at": offered_at,
    }
    offered = CallOffered.from_data(CallOfferedData(**common), source=SOURCE)
    if answered_at is not None:
        data: CallAnsweredData | CallAbandonedData = CallAnsweredData(
            **common,
            answered_at=answered_at,
            wait_seconds=wait_seconds(offered_at, answered_at),
            agent_id=agent_id,
            ended_at=ended_at,
        )
        return [offered, CallAnswered.from_data(data, source=SOURCE)]
    assert abandoned_at is not None
    data = CallAbandonedData(
        **common, abandoned_at=abandoned_at, wait_seconds=wait_seconds(offered_at, abandoned_at)
    )
    return [offered, CallAbandoned.from_data(data, source=SOURCE)]


async def record_calls(
    session: AsyncSession,
    *,
    records: Sequence[CallRecordIn],
    single: bool,
    actor: Principal,
    settings: Settings,
) -> CallBatchResult:
    """Records the calls not seen before and publishes their events; repeats change nothing."""
    await check_contact_records(session, records=records, single=single, settings=settings)
    firsts = first_of_each([r.call_id for r in records])
    fresh = {r.call_id: (uuid4(), r) for r, first in zip(records, firsts, strict=True) if first}
    now = utc_now()
    rows = [_row(call_uuid, record, actor=actor, now=now) for call_uuid, record in fresh.values()]
    inserted = await repository.insert_new(session, rows)
    events: list[CloudEvent] = []
    for call_id, (call_uuid, record) in fresh.items():
        if call_id in inserted:
            facts = record.model_dump(include=_CALL_FACTS)
            events.extend(call_events(call_uuid=call_uuid, channel=Channel.phone, **facts))
    await outbox.add_many(session, events)
    seen_before = await repository.ids_of(
        session, [r.call_id for r in records if r.call_id not in inserted]
    )
    return _results(
        records,
        fresh={k: v[0] for k, v in fresh.items()},
        inserted=inserted,
        seen_before=seen_before,
    )


def _row(
    call_uuid: UUID, record: CallRecordIn, *, actor: Principal, now: datetime
) -> dict[str, Any]:
    return {
        "id": call_uuid,
        "call_id": record.call_id,
        "queue": record.queue,
        "agent_id": record.agent_id,
        "service_area": record.service_area,
        "offered_at": record.offered_at,
        "answered_at": record.answered_at,
        "abandoned_at": record.abandoned_at,
        "ended_at": record.ended_at,
        "wait_seconds": wait_seconds(
            record.offered_at, record.answered_at or record.abandoned_at or record.offered_at
        ),
        "enquiry_id": record.enquiry_id,
        "recorded_at": now,
        "recorded_by": actor.key_id,
    }


def _results(
    records: Sequence[CallRecordIn],
    *,
    fresh: dict[str, UUID],
    inserted: set[str],
    seen_before: dict[str, UUID],
) -> CallBatchResult:
    """Each record's outcome: the first of a newly inserted call_id created, the rest repeats."""
    results = []
    reported: set[str] = set()
    for record in records:
        if record.call_id in inserted and record.call_id not in reported:
            results.append(
                CallResult(call_id=record.call_id, id=fresh[record.call_id], status="created")
            )
            reported.add(record.call_id)
        else:
            call_uuid = seen_before.get(record.call_id) or fresh[record.call_id]
            results.append(CallResult(call_id=record.call_id, id=call_uuid, status="duplicate"))
    created = sum(1 for r in results if r.status == "created")
    return CallBatchResult(created=created, duplicate=len(results) - created, results=results)
