"""Putting a complaint right: correcting a mistyped received_at, channel or service area, and
voiding a duplicate, spam or a test, each with its history entry and event (the outbox) in
the request's transaction.

A correction of received_at moves stage 1's deadlines with it, as sla-monitor moves its clocks
on complaint.corrected; a void (complaint.voided) ends the complaint at whatever stage it is.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from complaints_api.complaints import domain, repository
from complaints_api.complaints.domain import Status
from complaints_api.complaints.errors import InvalidField, StepNotAllowed
from complaints_api.complaints.models import Complaint
from complaints_api.complaints.schemas import ComplaintCorrection, ComplaintDetail, VoidRequest
from complaints_api.complaints.service import (
    Context,
    _event,
    _history,
    _locked,
    _record,
    detail_of,
    policy_of,
)
from contact_common.commitments.complaints import deadlines_started
from contact_common.events import (
    Channel,
    ComplaintCorrected,
    ComplaintStage,
    ComplaintVoided,
)


async def _unvoided(session: AsyncSession, complaint_id: uuid.UUID) -> Complaint:
    complaint = await _locked(session, complaint_id)
    if complaint.voided_at is not None:
        raise StepNotAllowed(
            f"Complaint {complaint.reference} was voided ({complaint.void_reason_code}) at "
            f"{complaint.voided_at.isoformat()}; it takes no further changes.",
            problem="complaint-voided",
            title="Voided",
            stage=complaint.stage,
            status=complaint.status,
            allowed_next=[],
        )
    return complaint


def _restart_stage_1(complaint: Complaint, context: Context, received_at: datetime) -> None:
    """Stage 1's deadlines counted again from a corrected receipt (those the receipt starts)."""
    record = next(r for r in complaint.stages if r.stage is ComplaintStage.stage_1)
    record.started_at = received_at
    started = deadlines_started(
        context.settings.commitments,
        context.settings.calendar,
        step="complaint.received",
        at=received_at,
        stage=record.stage,
        channel=complaint.channel,
        extension_working_days=record.extension_working_days,
    )
    if started.acknowledge is not None:
        record.acknowledge_due_at = started.acknowledge
    if started.respond is not None:
        record.due_at = started.respond


async def correct(
    *,
    session: AsyncSession,
    context: Context,
    complaint_id: uuid.UUID,
    request: ComplaintCorrection,
) -> ComplaintDetail:
    """Corrects received_at, channel and/or service area (complaint.corrected); values the
    complaint already has change nothing, so a retry records nothing again."""
    settings = context.settings
    if unknown := settings.unknown_service_area(request.service_area):
        raise InvalidField("body.service_area", unknown)
    complaint = await _unvoided(session, complaint_id)
    before: dict[str, Any] = {
        "received_at": complaint.received_at,
        "channel": complaint.channel,
        "service_area": complaint.service_area,
    }
    received_at = (request.received_at or complaint.received_at).astimezone(UTC)
    channel = request.channel or complaint.channel
    service_area = request.service_area or complaint.service_area
    after: dict[str, Any] = {
        "received_at": received_at,
        "channel": channel,
        "service_area": service_area,
    }
    changed = [name for name in before if before[name] != after[name]]
    if not changed:
        return detail_of(complaint, context)
    if "received_at" in changed:
        _check_receipt(complaint, context, received_at)
    complaint.received_at = received_at
    complaint.channel = channel
    complaint.service_area = service_area
    if "received_at" in changed:
        _restart_stage_1(complaint, context, complaint.received_at)
    complaint.correction_count += 1
    _history(
        complaint,
        context,
        action="corrected",
        at=context.now,
        reason=request.reason,
        changes={
            name: {"from": _jsonable(before[name]), "to": _jsonable(after[name])}
            for name in changed
        },
    )
    await _record(session, complaint, _corrected_event(complaint, context, before))
    return detail_of(complaint, context)


def _corrected_event(
    complaint: Complaint, context: Context, before: dict[str, Any]
) -> ComplaintCorrected:
    return _event(
        ComplaintCorrected,
        complaint,
        corrected_at=context.now,
        correction=complaint.correction_count,
        previous_channel=Channel(before["channel"]),
        previous_service_area=before["service_area"],
        previous_received_at=before["received_at"],
    )


def _check_receipt(complaint: Complaint, context: Context, received_at: datetime) -> None:
    """422 for a corrected receipt in the future or after the complaint's first step."""
    first = domain.first_step_at((h.action, h.occurred_at) for h in complaint.history)
    problem = domain.corrected_received_at_problem(
        received_at, first_step_at=first, now=context.now, policy=policy_of(context.settings)
    )
    if problem:
        raise InvalidField("body.received_at", problem)


def _jsonable(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    return value.value if isinstance(value, Channel) else value


async def void(
    *, session: AsyncSession, context: Context, complaint_id: uuid.UUID, request: VoidRequest
) -> ComplaintDetail:
    """Voids the complaint: a duplicate, spam or a test (complaint.voided). Once only."""
    problem = domain.duplicate_of_problem(
        reason_code=request.reason_code.value,
        duplicate_of=request.duplicate_of,
        complaint_id=complaint_id,
    )
    if problem:
        raise InvalidField("body.duplicate_of", problem)
    complaint = await _unvoided(session, complaint_id)
    if (
        request.duplicate_of is not None
        and await repository.get(session, request.duplicate_of) is None
    ):
        raise InvalidField("body.duplicate_of", f"there is no complaint {request.duplicate_of}")
    complaint.status = Status.voided
    complaint.voided_at = context.now
    complaint.void_reason_code = request.reason_code.value
    complaint.void_reason = request.reason
    complaint.duplicate_of = request.duplicate_of
    _history(
        complaint,
        context,
        action="voided",
        at=context.now,
        reason_code=request.reason_code.value,
        reason=request.reason,
        duplicate_of=str(request.duplicate_of) if request.duplicate_of else None,
    )
    await _record(
        session,
        complaint,
        _event(
            ComplaintVoided,
            complaint,
            voided_at=context.now,
            cause=request.reason_code,
            duplicate_of=request.duplicate_of,
        ),
    )
    return detail_of(complaint, context)
