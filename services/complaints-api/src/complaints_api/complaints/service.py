"""Complaint use cases: each checks the policy, changes the complaint and writes its event.

Every function takes the request's session and never commits: the change, its history entry
and its outbox event are one transaction. What they refuse they raise as the exceptions of
complaints.errors, which the app answers as problems: no HTTP here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from complaints_api.complaints import domain, repository
from complaints_api.complaints.domain import Action, PolicyRefusal, Status
from complaints_api.complaints.errors import (
    ChangedConcurrently,
    ComplaintNotFound,
    InvalidField,
    StepNotAllowed,
)
from complaints_api.complaints.models import Complaint, ComplaintHistory, ComplaintStageRecord
from complaints_api.complaints.repository import ComplaintFilter
from complaints_api.complaints.schemas import (
    AcknowledgeRequest,
    CloseRequest,
    ComplaintCreate,
    ComplaintDetail,
    ComplaintPage,
    ComplaintSummary,
    CustomerOut,
    EscalateRequest,
    ExtendRequest,
    HistoryEntry,
    NextDueOut,
    OmbudsmanDecisionRequest,
    RespondRequest,
    StageOut,
)
from complaints_api.config import Settings
from complaints_api.models import outbox
from contact_common.commitments import extended_due_at, next_due
from contact_common.commitments.complaints import (
    StageState,
    StartingStep,
    deadlines_started,
    stage_clocks,
)
from contact_common.events import (
    CloudEvent,
    ComplaintAcknowledged,
    ComplaintClosed,
    ComplaintEscalated,
    ComplaintExtended,
    ComplaintReceived,
    ComplaintResponded,
    ComplaintStage,
    EventData,
)
from contact_common.pagination import InvalidCursor, decode_cursor, encode_cursor
from contact_common.references import format_reference

SOURCE = "/complaints-api"
REFERENCE_PREFIX = "CMP"


@dataclass(frozen=True)
class Context:
    """Who is asking and under which settings; `now` is read once per request."""

    settings: Settings
    recorded_by: str
    now: datetime


def policy_of(settings: Settings) -> domain.Policy:
    """The procedure's settings and the commitments policy in force."""
    return domain.Policy(
        commitments=settings.commitments,
        escalation_window_days=settings.escalation_window_days,
        clock_skew=timedelta(seconds=settings.clock_skew_seconds),
    )


# -- views ------------------------------------------------------------------------------


def _facts(complaint: Complaint) -> domain.ComplaintFacts:
    return domain.ComplaintFacts(
        stage=complaint.stage,
        status=complaint.status,
        channel=complaint.channel,
        stages={
            record.stage: domain.StageFacts(
                stage=record.stage,
                started_at=record.started_at,
                acknowledged_at=record.acknowledged_at,
                extended=record.extended_at is not None,
                responded_at=record.responded_at,
                responded_by=record.responded_by,
                due_at=record.due_at,
            )
            for record in complaint.stages
        },
    )


def _current_record(complaint: Complaint) -> ComplaintStageRecord:
    return next(record for record in complaint.stages if record.stage is complaint.stage)


def _next_due(
    complaint: Complaint, current: ComplaintStageRecord | None, context: Context
) -> NextDueOut | None:
    """The current stage's commitment due next, as at the request's time."""
    if current is None or complaint.status in (Status.closed, Status.voided):
        return None  # a voided complaint has no commitment running
    state = StageState(
        stage=current.stage,
        channel=complaint.channel,
        started_at=current.started_at,
        acknowledge_due_at=current.acknowledge_due_at,
        acknowledged_at=current.acknowledged_at,
        due_at=current.due_at,
        responded_at=current.responded_at,
    )
    settings = context.settings
    due = next_due(
        stage_clocks(settings.commitments, state), calendar=settings.calendar, now=context.now
    )
    if due is None:
        return None
    return NextDueOut(commitment=due.commitment, due_at=due.due_at, status=due.status)


def _summary_fields(complaint: Complaint, context: Context | None = None) -> dict[str, Any]:
    current = next((r for r in complaint.stages if r.stage is complaint.stage), None)
    return {
        "id": complaint.id,
        "reference": complaint.reference,
        "status": complaint.status,
        "stage": complaint.stage,
        "outcome": complaint.outcome,
        "channel": complaint.channel,
        "service_area": complaint.service_area,
        "received_at": complaint.received_at,
        "enquiry_id": complaint.enquiry_id,
        "due_at": (
            current.due_at
            if current is not None and not current.responded_at and not complaint.voided_at
            else None
        ),
        "closed_at": complaint.closed_at,
        "ombudsman_decision": complaint.ombudsman_decision,
        "correction_count": complaint.correction_count,
        "voided_at": complaint.voided_at,
        "void_reason_code": complaint.void_reason_code,
        "duplicate_of": complaint.duplicate_of,
        "next_due": _next_due(complaint, current, context) if context is not None else None,
    }


def detail_of(complaint: Complaint, context: Context) -> ComplaintDetail:
    """The full view of a complaint, with what the policy allows next."""
    calendar, policy = context.settings.calendar, policy_of(context.settings)
    facts = _facts(complaint)
    customer = CustomerOut(
        name=complaint.customer_name,
        email=complaint.customer_email,
        phone=complaint.customer_phone,
        address=complaint.customer_address,
        uprn=complaint.customer_uprn,
    )
    return ComplaintDetail(
        **_summary_fields(complaint, context),
        description=complaint.description,
        customer=customer if any(customer.model_dump().values()) else None,
        allowed_next=domain.allowed_next(facts, now=context.now, calendar=calendar, policy=policy),
        escalate_by=domain.escalate_by(calendar, policy, facts),
        closed_by=complaint.closed_by,
        close_reason=complaint.close_reason,
        void_reason=complaint.void_reason,
        erased_at=complaint.erased_at,
        stages=[StageOut.model_validate(record) for record in complaint.stages],
        history=[HistoryEntry.model_validate(entry) for entry in complaint.history],
        created_at=complaint.created_at,
        updated_at=complaint.updated_at,
    )


# -- events -----------------------------------------------------------------------------


def _about(complaint: Complaint) -> dict[str, Any]:
    """The facts every complaint event repeats: ids, channel, service area, receipt. No PII."""
    return {
        "complaint_id": complaint.id,
        "channel": complaint.channel,
        "service_area": complaint.service_area,
        "received_at": complaint.received_at,
    }


E = TypeVar("E", bound=CloudEvent)


def _event(event_type: type[E], complaint: Complaint, **data: Any) -> E:
    """A step's event: its data model of the complaint's facts (`_about`) and the step's own."""
    data_type: type[EventData] = event_type.model_fields["data"].annotation  # type: ignore[assignment]
    return event_type.from_data(data_type(**_about(complaint), **data), source=SOURCE)


def _history(
    complaint: Complaint,
    context: Context,
    *,
    action: str,
    at: datetime,
    officer: str | None = None,
    **details: Any,
) -> None:
    complaint.history.append(
        ComplaintHistory(
            action=action,
            stage=complaint.stage,
            status=complaint.status,
            occurred_at=at,
            recorded_at=context.now,
            officer=officer,
            recorded_by=context.recorded_by,
            details={k: v for k, v in details.items() if v is not None},
        )
    )
    complaint.updated_at = context.now


async def _save(session: AsyncSession, complaint: Complaint) -> None:
    """Writes the change; a concurrent writer that got there first (SQLite) makes it a 409."""
    reference = complaint.reference  # read now: a failed flush leaves the object unusable
    try:
        await repository.flush(session)
    except StaleDataError as exc:
        raise ChangedConcurrently(reference) from exc


async def _record(session: AsyncSession, complaint: Complaint, event: CloudEvent) -> None:
    await _save(session, complaint)
    await outbox.add(session, event)


# -- use cases --------------------------------------------------------------------------


async def receive(
    *, session: AsyncSession, context: Context, request: ComplaintCreate
) -> ComplaintDetail:
    """Records a complaint at stage 1 with its reference, and publishes complaint.received."""
    settings = context.settings
    if unknown := settings.unknown_service_area(request.service_area):
        raise InvalidField("body.service_area", unknown)
    received_at = request.received_at.astimezone(UTC)
    policy = policy_of(settings)
    try:
        domain.check_time(received_at, now=context.now, policy=policy)
    except domain.InvalidTime as exc:
        raise InvalidField("body.received_at", str(exc)) from exc
    year = received_at.astimezone(settings.calendar.timezone).year
    number = await repository.next_reference_number(session, year=year)
    customer = request.customer
    complaint = Complaint(
        id=uuid.uuid4(),
        reference=format_reference(REFERENCE_PREFIX, year, number),
        received_at=received_at,
        channel=request.channel,
        service_area=request.service_area,
        enquiry_id=request.enquiry_id,
        stage=ComplaintStage.stage_1,
        status=Status.received,
        description=request.description,
        customer_name=customer.name if customer else None,
        customer_email=customer.email if customer else None,
        customer_phone=customer.phone if customer else None,
        customer_address=customer.address if customer else None,
        customer_uprn=customer.uprn if customer else None,
        created_at=context.now,
        updated_at=context.now,
        correction_count=0,
        stages=[],
        history=[],
    )
    stage = _new_stage(ComplaintStage.stage_1, received_at)
    complaint.stages.append(stage)
    _start_clocks(complaint, stage, context, step="complaint.received", at=received_at)
    _history(complaint, context, action="received", at=received_at)
    received = _event(
        ComplaintReceived,
        complaint,
        reference=complaint.reference,
        stage=ComplaintStage.stage_1,
        enquiry_id=complaint.enquiry_id,
    )
    await repository.insert_received(session, complaint=complaint, event=received)
    return detail_of(complaint, context)


def _new_stage(
    stage: ComplaintStage, started_at: datetime, *, reason: str | None = None
) -> ComplaintStageRecord:
    return ComplaintStageRecord(stage=stage, started_at=started_at, escalation_reason=reason)


def _start_clocks(
    complaint: Complaint,
    record: ComplaintStageRecord,
    context: Context,
    *,
    step: StartingStep,
    at: datetime,
) -> None:
    """Sets the deadlines this step starts at the stage, as sla-monitor starts its clocks: each
    once, under the policy in force when it starts, with an extension already agreed."""
    started = deadlines_started(
        context.settings.commitments,
        context.settings.calendar,
        step=step,
        at=at,
        stage=record.stage,
        channel=complaint.channel,
        extension_working_days=record.extension_working_days,
    )
    if record.acknowledge_due_at is None:
        record.acknowledge_due_at = started.acknowledge
    if record.due_at is None:
        record.due_at = started.respond


async def get(
    *, session: AsyncSession, context: Context, complaint_id: uuid.UUID
) -> ComplaintDetail:
    """A complaint with its stages and history; 404 if there is none."""
    complaint = await repository.get(session, complaint_id)
    if complaint is None:
        raise ComplaintNotFound(complaint_id)
    return detail_of(complaint, context)


async def _locked(session: AsyncSession, complaint_id: uuid.UUID) -> Complaint:
    complaint = await repository.get_for_update(session, complaint_id)
    if complaint is None:
        raise ComplaintNotFound(complaint_id)
    return complaint


def _plan(
    complaint: Complaint,
    context: Context,
    action: Action,
    *,
    at: datetime,
    at_field: str = "body.at",
    officer: str | None = None,
    working_days: int | None = None,
) -> domain.State:
    """The policy's verdict as a refusal: StepNotAllowed with what is allowed next (409),
    InvalidField for a wrong value (422)."""
    try:
        return domain.plan(
            _facts(complaint),
            action,
            at=at,
            now=context.now,
            calendar=context.settings.calendar,
            policy=policy_of(context.settings),
            officer=officer,
            working_days=working_days,
        )
    except PolicyRefusal as refusal:
        raise StepNotAllowed(
            refusal.detail,
            problem=refusal.problem,
            title="Not allowed by the complaints policy",
            stage=complaint.stage,
            status=complaint.status,
            allowed_next=refusal.allowed_next,
        ) from refusal
    except domain.InvalidTime as exc:
        raise InvalidField(at_field, str(exc)) from exc
    except domain.InvalidExtension as exc:
        raise InvalidField("body.working_days", str(exc)) from exc


async def acknowledge(
    *,
    session: AsyncSession,
    context: Context,
    complaint_id: uuid.UUID,
    request: AcknowledgeRequest,
) -> ComplaintDetail:
    """Acknowledges the complaint at its current stage."""
    complaint = await _locked(session, complaint_id)
    at = (request.at or context.now).astimezone(UTC)
    complaint.stage, complaint.status = _plan(complaint, context, Action.acknowledge, at=at)
    record = _current_record(complaint)
    record.acknowledged_at, record.acknowledged_by = at, request.officer
    _start_clocks(complaint, record, context, step="complaint.acknowledged", at=at)
    _history(complaint, context, action="acknowledged", at=at, officer=request.officer)
    await _record(
        session,
        complaint,
        _event(
            ComplaintAcknowledged,
            complaint,
            stage=complaint.stage,
            acknowledged_at=at,
        ),
    )
    return detail_of(complaint, context)


async def extend(
    *, session: AsyncSession, context: Context, complaint_id: uuid.UUID, request: ExtendRequest
) -> ComplaintDetail:
    """Extends the current stage's response deadline, once, as far as the policy allows.

    The new deadline counts from the one it replaces; under the Complaint Handling Code an
    extension agreed before the acknowledgement applies when the acknowledgement starts the
    response clock.
    """
    complaint = await _locked(session, complaint_id)
    at = (request.at or context.now).astimezone(UTC)
    complaint.stage, complaint.status = _plan(
        complaint, context, Action.extend, at=at, working_days=request.working_days
    )
    record = _current_record(complaint)
    if record.due_at is not None:
        record.due_at = extended_due_at(
            record.due_at, request.working_days, context.settings.calendar
        )
    record.extended_at = at
    record.extension_working_days = request.working_days
    record.extension_reason = request.reason
    record.extended_by = request.officer
    _history(
        complaint,
        context,
        action="extended",
        at=at,
        officer=request.officer,
        working_days=request.working_days,
        due_at=record.due_at.isoformat() if record.due_at else None,
    )
    await _record(
        session,
        complaint,
        _event(
            ComplaintExtended,
            complaint,
            stage=complaint.stage,
            extended_at=at,
            working_days=request.working_days,
            due_at=record.due_at,
        ),
    )
    return detail_of(complaint, context)


def _decide(
    complaint: Complaint,
    context: Context,
    *,
    action: str,
    at: datetime,
    request: RespondRequest | OmbudsmanDecisionRequest,
) -> None:
    """A decision at the current stage, the council's or the Ombudsman's, with its history."""
    record = _current_record(complaint)
    record.responded_at, record.responded_by = at, request.officer
    record.outcome, record.summary = request.outcome, request.summary
    complaint.outcome = request.outcome
    _history(
        complaint,
        context,
        action=action,
        at=at,
        officer=request.officer,
        outcome=request.outcome.value,
    )


async def respond(
    *, session: AsyncSession, context: Context, complaint_id: uuid.UUID, request: RespondRequest
) -> ComplaintDetail:
    """Records the council's response and decision at the current stage."""
    complaint = await _locked(session, complaint_id)
    at = (request.at or context.now).astimezone(UTC)
    complaint.stage, complaint.status = _plan(
        complaint, context, Action.respond, at=at, officer=request.officer
    )
    _decide(complaint, context, action="responded", at=at, request=request)
    await _record(
        session,
        complaint,
        _event(
            ComplaintResponded,
            complaint,
            stage=complaint.stage,
            responded_at=at,
            outcome=request.outcome,
        ),
    )
    return detail_of(complaint, context)


async def escalate(
    *, session: AsyncSession, context: Context, complaint_id: uuid.UUID, request: EscalateRequest
) -> ComplaintDetail:
    """Moves the complaint to its next stage at the customer's request."""
    complaint = await _locked(session, complaint_id)
    at = (request.at or context.now).astimezone(UTC)
    from_stage = complaint.stage
    to_stage, status = _plan(complaint, context, Action.escalate, at=at)
    complaint.stage, complaint.status = to_stage, status
    # A closed stage reopened by the customer's escalation is no longer closed.
    complaint.closed_at = complaint.closed_by = complaint.close_reason = None
    record = _new_stage(to_stage, at, reason=request.reason)
    complaint.stages.append(record)
    _start_clocks(complaint, record, context, step="complaint.escalated", at=at)
    _history(
        complaint,
        context,
        action="escalated",
        at=at,
        from_stage=from_stage.value,
        to_stage=to_stage.value,
    )
    await _record(
        session,
        complaint,
        _event(
            ComplaintEscalated,
            complaint,
            from_stage=from_stage,
            to_stage=to_stage,
            requested_at=at,
        ),
    )
    return detail_of(complaint, context)


async def close(
    *, session: AsyncSession, context: Context, complaint_id: uuid.UUID, request: CloseRequest
) -> ComplaintDetail:
    """Closes the complaint after the council's response at its stage, recording who closed it."""
    complaint = await _locked(session, complaint_id)
    at = (request.at or context.now).astimezone(UTC)
    complaint.stage, complaint.status = _plan(complaint, context, Action.close, at=at)
    complaint.closed_at, complaint.closed_by = at, request.officer
    complaint.close_reason = request.reason
    _history(complaint, context, action="closed", at=at, officer=request.officer)
    await _record(session, complaint, _closed_event(complaint, at))
    return detail_of(complaint, context)


def _closed_event(complaint: Complaint, at: datetime) -> ComplaintClosed:
    return _event(
        ComplaintClosed,
        complaint,
        stage=complaint.stage,
        closed_at=at,
        ombudsman_decision=complaint.ombudsman_decision,
    )


async def record_ombudsman_decision(
    *,
    session: AsyncSession,
    context: Context,
    complaint_id: uuid.UUID,
    request: OmbudsmanDecisionRequest,
) -> ComplaintDetail:
    """Records the Ombudsman's decision on a referred complaint, which closes it."""
    complaint = await _locked(session, complaint_id)
    at = request.decided_at.astimezone(UTC)
    complaint.stage, complaint.status = _plan(
        complaint, context, Action.ombudsman_decision, at=at, at_field="body.decided_at"
    )
    complaint.ombudsman_decision = request.outcome
    complaint.closed_at, complaint.closed_by = at, request.officer or context.recorded_by
    _decide(complaint, context, action="ombudsman_decision", at=at, request=request)
    await _record(session, complaint, _closed_event(complaint, at))
    return detail_of(complaint, context)


async def erase_customer(
    *, session: AsyncSession, context: Context, complaint_id: uuid.UUID
) -> ComplaintDetail:
    """Erases the customer's personal data from a complaint, keeping its facts for statistics.

    What the customer or officers wrote (description, reasons, summaries) goes too: free text
    about a complaint is about the person. Erasing twice changes nothing more.
    """
    complaint = await _locked(session, complaint_id)
    if complaint.erased_at is not None:
        return detail_of(complaint, context)
    complaint.description = None
    complaint.customer_name = complaint.customer_email = complaint.customer_phone = None
    complaint.customer_address = complaint.customer_uprn = None
    complaint.close_reason = complaint.void_reason = None
    for entry in complaint.history:
        if "reason" in entry.details:
            entry.details = {k: v for k, v in entry.details.items() if k != "reason"}
    for record in complaint.stages:
        record.escalation_reason = record.extension_reason = record.summary = None
    complaint.erased_at = context.now
    _history(complaint, context, action="erased", at=context.now)
    await _save(session, complaint)
    return detail_of(complaint, context)


# -- lists ------------------------------------------------------------------------------


async def list_complaints(
    *,
    session: AsyncSession,
    context: Context,
    where: ComplaintFilter,
    cursor: str | None,
    limit: int,
    with_total: bool = False,
) -> ComplaintPage:
    """A page of complaints matching `where`, newest received first; and how many match in
    all if asked (`with_total`)."""
    if unknown := context.settings.unknown_service_area(where.service_area):
        raise InvalidField("query.service_area", unknown)
    if where.received_from and where.received_to and where.received_from > where.received_to:
        raise InvalidField("query.received_from", "must not be after received_to")
    try:
        after = decode_cursor(cursor) if cursor else None
    except InvalidCursor as exc:
        raise InvalidField(
            "query.cursor", "not a cursor this API gave out; start again without it"
        ) from exc
    rows = list(await repository.list_page(session, where=where, after=after, limit=limit))
    more = len(rows) > limit
    rows = rows[:limit]
    items = [ComplaintSummary(**_summary_fields(c, context)) for c in rows]
    total = await repository.count(session, where=where) if with_total else None
    return ComplaintPage(
        items=items,
        next_cursor=encode_cursor(rows[-1].received_at, rows[-1].id) if more else None,
        total=total,
    )
