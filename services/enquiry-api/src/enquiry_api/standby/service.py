"""Recording the standby contractor's batches: every valid record kept, each bad one explained.

A record is idempotent per contractor (the API key) and record_id. A new record publishes
call.offered and call.answered with channel standby (so metrics count it and the SLA monitor
knows it was out of hours); one that needs follow-up opens an enquiry (channel standby), assigned
to the record's service area for the next working day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import orjson
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.auth import Principal
from contact_common.errors import FieldError, ProblemError
from contact_common.events import Channel, CloudEvent
from enquiry_api.calls.service import call_events
from enquiry_api.common import too_many, utc_now
from enquiry_api.config import Settings
from enquiry_api.enquiries import service as enquiries
from enquiry_api.enquiries.domain import phone_digits
from enquiry_api.models import outbox
from enquiry_api.standby import repository
from enquiry_api.standby.domain import (
    BatchItem,
    BatchUnreadable,
    follow_up_description,
    read_csv,
    record_id_of,
)
from enquiry_api.standby.schemas import StandbyBatchResult, StandbyRecordIn, StandbyRecordResult

_RECORD = TypeAdapter(StandbyRecordIn)


def _check(
    item: BatchItem, settings: Settings, now: datetime
) -> StandbyRecordIn | list[FieldError]:
    if not isinstance(item.fields, dict):
        return [FieldError(field="record", message="each record must be a JSON object")]
    if "_extra_cells" in item.fields:
        return [FieldError(field="record", message="the row has more cells than the header")]
    try:
        record = _RECORD.validate_python(item.fields)
    except ValidationError as error:
        return [
            FieldError(field=".".join(str(part) for part in e["loc"]) or "record", message=e["msg"])
            for e in error.errors(include_url=False)
        ]
    latest = now + timedelta(seconds=settings.clock_skew_seconds)
    for name in ("call_started_at", "ended_at"):
        if getattr(record, name) > latest:
            return [FieldError(field=name, message=f"{name} is in the future")]
    if record.service_area not in settings.service_areas:
        return [
            FieldError(
                field="service_area",
                message=f"'{record.service_area}' is not a service area here; one of: "
                + ", ".join(settings.service_areas),
            )
        ]
    return record


# A record kept: its call's id, the record, and its position in the batch (the first if repeated).
_Fresh = dict[str, tuple[UUID, StandbyRecordIn, int]]


async def record_batch(
    session: AsyncSession,
    *,
    items: Sequence[BatchItem],
    actor: Principal,
    settings: Settings,
) -> StandbyBatchResult:
    """Stores the new valid records, opens their follow-ups, answers record by record."""
    now = utc_now()
    results, fresh = _check_all(items, settings, now)
    rows = [
        _row(call_uuid, record, actor=actor, now=now) for call_uuid, record, _ in fresh.values()
    ]
    inserted = await repository.insert_new(session, rows)
    new = [
        (call_uuid, record)
        for record_id, (call_uuid, record, _) in fresh.items()
        if record_id in inserted
    ]
    await outbox.add_many(
        session, [event for call_uuid, record in new for event in _call_events(call_uuid, record)]
    )
    links = await _open_follow_ups(
        session,
        [(u, r) for u, r in new if r.requires_follow_up],
        actor=actor,
        settings=settings,
        now=now,
    )
    earlier = await repository.follow_ups_of(
        session,
        contractor_key_id=actor.key_id,
        record_ids=[r for r in fresh if r not in inserted],
    )
    follow_up_of_new = {
        record.record_id: links.get(call_uuid) for call_uuid, record, _ in fresh.values()
    }
    _settle(
        results, fresh=fresh, inserted=inserted, follow_up_of_new=follow_up_of_new, earlier=earlier
    )
    counts = {"created": 0, "duplicate": 0, "rejected": 0}
    for result in results:
        counts[result.status] += 1
    return StandbyBatchResult(received=len(items), results=results, **counts)


def _check_all(
    items: Sequence[BatchItem], settings: Settings, now: datetime
) -> tuple[list[StandbyRecordResult], _Fresh]:
    """Each item's result (created, or rejected with why), and the valid records by record_id."""
    results: list[StandbyRecordResult] = []
    fresh: _Fresh = {}
    for item in items:
        checked = _check(item, settings, now)
        if isinstance(checked, list):
            results.append(
                StandbyRecordResult(
                    index=item.position,
                    line=item.line,
                    record_id=record_id_of(item.fields),
                    status="rejected",
                    errors=checked,
                )
            )
            continue
        if checked.record_id not in fresh:
            fresh[checked.record_id] = (uuid4(), checked, item.position)
        results.append(
            StandbyRecordResult(
                index=item.position, line=item.line, record_id=checked.record_id, status="created"
            )
        )
    return results, fresh


def _row(
    call_uuid: UUID, record: StandbyRecordIn, *, actor: Principal, now: datetime
) -> dict[str, Any]:
    return {
        "id": call_uuid,
        "contractor_key_id": actor.key_id,
        "record_id": record.record_id,
        "call_started_at": record.call_started_at,
        "answered_at": record.answered_at,
        "ended_at": record.ended_at,
        "category": record.category,
        "service_area": record.service_area,
        "action_taken": record.action_taken,
        "requires_follow_up": record.requires_follow_up,
        "caller_phone": record.caller_phone,
        "caller_phone_digits": phone_digits(record.caller_phone),
        "notes": record.notes,
        "recorded_at": now,
    }


def _call_events(call_uuid: UUID, record: StandbyRecordIn) -> list[CloudEvent]:
    return call_events(
        call_uuid=call_uuid,
        channel=Channel.standby,
        queue="standby",
        service_area=record.service_area,
        offered_at=record.call_started_at,
        answered_at=record.answered_at,
        ended_at=record.ended_at,
    )


async def _open_follow_ups(
    session: AsyncSession,
    follow_ups: list[tuple[UUID, StandbyRecordIn]],
    *,
    actor: Principal,
    settings: Settings,
    now: datetime,
) -> dict[UUID, UUID]:
    """Opens the follow-up enquiries and links them: call id -> enquiry id."""
    opened = await enquiries.open_enquiries(
        session,
        drafts=[
            enquiries.EnquiryDraft(
                channel=Channel.standby,
                service_area=record.service_area,
                received_at=record.call_started_at,
                description=follow_up_description(
                    category=record.category, action_taken=record.action_taken, notes=record.notes
                ),
                source="standby",
                customer_phone=record.caller_phone,
                call_id=call_uuid,
                assigned_at=record.ended_at,
                details={"standby_record_id": record.record_id},
            )
            for call_uuid, record in follow_ups
        ],
        actor=actor,
        settings=settings,
        now=now,
    )
    links = {
        call_uuid: enquiry.id for (call_uuid, _), enquiry in zip(follow_ups, opened, strict=True)
    }
    await repository.link_enquiries(session, links)
    return links


def _settle(
    results: list[StandbyRecordResult],
    *,
    fresh: _Fresh,
    inserted: set[str],
    follow_up_of_new: dict[str, UUID | None],
    earlier: dict[str, UUID | None],
) -> None:
    """Marks the repeats duplicate (in the batch or from before) and gives each its follow-up."""
    first_position = {record_id: position for record_id, (_, _, position) in fresh.items()}
    for result in results:
        if result.status != "created" or result.record_id is None:
            continue
        record_id = result.record_id
        if record_id in inserted and first_position[record_id] == result.index:
            result.enquiry_id = follow_up_of_new.get(record_id)
        else:
            result.status = "duplicate"
            result.enquiry_id = (
                earlier.get(record_id) if record_id in earlier else follow_up_of_new.get(record_id)
            )


def read_batch(content_type: str, body: bytes, cap: int) -> list[BatchItem]:
    """The records of a batch body (JSON list or CSV); a problem if it is unreadable whole."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    try:
        if media_type in ("text/csv", "application/csv"):
            try:
                text = body.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise BatchUnreadable("the CSV is not UTF-8 text") from None
            items = read_csv(text)
        elif media_type == "application/json" or media_type.endswith("+json"):
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError as error:
                raise BatchUnreadable(f"the body is not JSON: {error}") from None
            if not isinstance(payload, list):
                raise BatchUnreadable("the body must be a JSON list of records (or a CSV file)")
            items = [BatchItem(position=i, fields=fields) for i, fields in enumerate(payload)]
        else:
            raise ProblemError(
                415,
                "Send the batch as application/json (a list of records) or text/csv.",
                problem="unsupported-media-type",
            )
    except BatchUnreadable as unreadable:
        raise ProblemError(
            422,
            f"The batch cannot be read: {unreadable}. Nothing was stored.",
            problem="batch-unreadable",
            title="Unreadable batch",
            errors=[{"field": "body", "message": str(unreadable)}],
        ) from None
    if len(items) > cap:
        raise too_many(len(items), cap, "records")
    return items
