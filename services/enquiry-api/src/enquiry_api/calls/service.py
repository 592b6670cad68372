"""Recording telephony call records: idempotent on the platform's call id, with their events."""

from __future__ import annotations

from collections.abc import Sequence
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
from enquiry_api.common import SOURCE, invalid, utc_now
from enquiry_api.config import Settings
from enquiry_api.enquiries import repository as enquiries
from enquiry_api.models import outbox


def call_events(
    *,
    call_uuid: UUID,
    channel: Channel,
    record: CallRecordIn,
) -> list[CloudEvent]:
    """call.offered, then call.answered or call.abandoned, at the times the record gives."""
    common: dict[str, Any] = {
        "call_id": call_uuid,
        "channel": channel,
        "queue": record.queue,
        "service_area": record.service_area,
        "offered_at": record.offered_at,
    }
    events: list[CloudEvent] = [CallOffered.from_data(CallOfferedData(**common), source=SOURCE)]
    if record.answered_at is not None:
        events.append(
            CallAnswered.from_data(
                CallAnsweredData(
                    **common,
                    answered_at=record.answered_at,
                    wait_seconds=wait_seconds(record.offered_at, record.answered_at),
                    agent_id=record.agent_id,
                    ended_at=record.ended_at,
                ),
                source=SOURCE,
            )
        )
    else:
        assert record.abandoned_at is not None
        events.append(
            CallAbandoned.from_data(
                CallAbandonedData(
                    **common,
                    abandoned_at=record.abandoned_at,
                    wait_seconds=wait_seconds(record.offered_at, record.abandoned_at),
                ),
                source=SOURCE,
            )
        )
    return events


async def record_calls(
    session: AsyncSession,
    *,
    records: Sequence[CallRecordIn],
    single: bool,
    actor: Principal,
    settings: Settings,
) -> CallBatchResult:
    """Records the calls not seen before and publishes their events; repeats change nothing."""

    def where(position: int, name: str) -> str:
        return f"body.{name}" if single else f"body.{position}.{name}"

    for position, record in enumerate(records):
        if record.service_area and record.service_area not in settings.service_areas:
            raise invalid(where(position, "service_area"), "not a service area here")
    linked = [r.enquiry_id for r in records if r.enquiry_id]
    known = await enquiries.existing_ids(session, linked)
    for position, record in enumerate(records):
        if record.enquiry_id and record.enquiry_id not in known:
            raise invalid(where(position, "enquiry_id"), f"there is no enquiry {record.enquiry_id}")

    now = utc_now()
    firsts = first_of_each([r.call_id for r in records])
    fresh = {r.call_id: (uuid4(), r) for r, first in zip(records, firsts, strict=True) if first}
    rows = [
        {
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
        for call_uuid, record in fresh.values()
    ]
    inserted = await repository.insert_new(session, rows) if rows else set()
    events: list[CloudEvent] = []
    for call_id, (call_uuid, record) in fresh.items():
        if call_id not in inserted:
            continue
        events.extend(call_events(call_uuid=call_uuid, channel=Channel.phone, record=record))
    await outbox.add_many(session, events)

    seen_before = await repository.ids_of(
        session, [r.call_id for r in records if r.call_id not in inserted]
    )
    results = []
    reported: set[str] = set()
    for record in records:
        if record.call_id in inserted and record.call_id not in reported:
            results.append(
                CallResult(call_id=record.call_id, id=fresh[record.call_id][0], status="created")
            )
            reported.add(record.call_id)
        else:
            call_uuid = seen_before.get(record.call_id) or fresh[record.call_id][0]
            results.append(CallResult(call_id=record.call_id, id=call_uuid, status="duplicate"))
    created = sum(1 for r in results if r.status == "created")
    return CallBatchResult(created=created, duplicate=len(results) - created, results=results)
