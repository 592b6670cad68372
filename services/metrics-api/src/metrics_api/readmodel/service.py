"""Applies events to the read models: each event once, each contact's step counted once, and
every figure on the local day of the thing it counts, however late the event arrives."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.calendar import WorkingCalendar
from contact_common.events import (
    CallAbandoned,
    CallAnswered,
    CallOffered,
    CloudEvent,
    ComplaintAcknowledged,
    ComplaintClosed,
    ComplaintCorrected,
    ComplaintEscalated,
    ComplaintExtended,
    ComplaintReceived,
    ComplaintResponded,
    ComplaintVoided,
    EnquiryAcknowledged,
    EnquiryAssigned,
    EnquiryCorrected,
    EnquiryOpened,
    EnquiryReopened,
    EnquiryResolved,
    EnquiryResponded,
    EnquiryVoided,
    FeedbackSubmitted,
    SlaAtRisk,
    SlaBreached,
    SlaMet,
    SlaStopped,
    SlaWithdrawn,
    VisitArrived,
    VisitAttended,
)
from contact_common.inbox import claim_many
from metrics_api.models import inbox_message
from metrics_api.readmodel import repository
from metrics_api.readmodel.domain import (
    Call,
    Clock,
    Complaint,
    Correction,
    CountingRules,
    Enquiry,
    Feedback,
    Ledger,
    Visit,
)

CONSUMER = "metrics-api"

EnquiryEvent = (
    EnquiryOpened
    | EnquiryAcknowledged
    | EnquiryAssigned
    | EnquiryResponded
    | EnquiryResolved
    | EnquiryReopened
)
CallEvent = CallOffered | CallAnswered | CallAbandoned
VisitEvent = VisitArrived | VisitAttended
ComplaintEvent = (
    ComplaintReceived
    | ComplaintAcknowledged
    | ComplaintExtended
    | ComplaintResponded
    | ComplaintEscalated
    | ComplaintClosed
)
SlaEvent = SlaMet | SlaBreached | SlaStopped | SlaWithdrawn
Corrected = EnquiryCorrected | ComplaintCorrected
Voided = EnquiryVoided | ComplaintVoided


@dataclass
class Applied:
    """What a batch changed: event types applied, duplicates skipped, breaches touched."""

    applied: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    breaches_changed: bool = False


async def apply_events(
    session: AsyncSession,
    events: Sequence[CloudEvent],
    *,
    rules: CountingRules,
    calendar: WorkingCalendar,
) -> Applied:
    """Counts a batch of events into the read models, in the caller's transaction."""
    new_ids = await claim_many(
        session, inbox_message, consumer=CONSUMER, events=[(e.id, e.type) for e in events]
    )
    fresh: dict[UUID, CloudEvent] = {}
    for event in events:
        if event.id in new_ids:
            fresh.setdefault(event.id, event)  # a second copy in the batch is a duplicate too
    outcome = Applied(duplicates=len(events) - len(fresh))
    if not fresh:
        return outcome
    # Read after the inbox's claim, which waits for any other transaction claiming these events
    # (an instance that had the partition before a rebalance) to commit: what it counted is
    # read here, not counted again.
    clock_ids = {e.data.clock_id for e in fresh.values() if isinstance(e, SlaEvent)}
    subjects = _subjects(fresh.values())
    ledger = Ledger(
        rules=rules,
        calendar=calendar,
        steps=await repository.steps_of(session, subjects),
        places=await repository.places_of(session, subjects),
        clocks=await repository.clocks_of(session, clock_ids),
        breaches=await repository.breaches_of(session, clock_ids),
    )
    for event in fresh.values():
        _apply(ledger, event)
        outcome.applied[event.type] = outcome.applied.get(event.type, 0) + 1
    outcome.breaches_changed = await _write(session, ledger)
    return outcome


async def _write(session: AsyncSession, ledger: Ledger) -> bool:
    """Writes back what a batch changed; True if the breaches to chase changed."""
    await repository.add_steps(session, ledger.new_steps)
    await repository.save_places(session, ledger.new_places)
    await repository.drop_places(session, ledger.dropped_places)
    await repository.mark_finished(session, ledger.finished)
    await repository.count_clocks(session, ledger.counted_clocks)
    closed = await repository.close_breaches(
        session, clock_ids=ledger.closed_clocks, contact_ids=ledger.finished_contacts
    )
    # After the deletes: a breach opened after its contact finished (a reopen) stays open.
    await repository.open_breaches(session, ledger.breaches_to_open())
    await repository.add_counts(session, ledger.counts())
    return ledger.breaches_changed or closed > 0


def _subjects(events: Iterable[CloudEvent]) -> set[UUID]:
    """The contacts whose counted steps a batch reads: those of its contact events, and those
    of its breaches with no stop (one opens unless its contact was finished with)."""
    subjects = set()
    for event in events:
        if isinstance(event, SlaBreached):
            if event.data.stopped_at is None:
                subjects.add(event.data.contact_id)
        elif not isinstance(event, SlaEvent | SlaAtRisk):
            subjects.add(event.data.subject_id)
    return subjects


def _apply(ledger: Ledger, event: CloudEvent) -> None:
    """Tells the ledger what an event says happened."""
    if isinstance(event, Corrected):
        facts = event.data
        ledger.contact_corrected(
            Correction(
                subject_id=facts.subject_id,
                received_at=facts.received_at,
                channel=facts.channel.value,
                service_area=facts.service_area,
            )
        )
    elif isinstance(event, Voided):
        ledger.contact_voided(event.data.subject_id, at=event.time)
    elif isinstance(event, EnquiryEvent):
        _enquiry(ledger, event)
    elif isinstance(event, CallEvent | VisitEvent):
        _call_or_visit(ledger, event)
    elif isinstance(event, FeedbackSubmitted):
        data = event.data
        feedback = Feedback(
            feedback_id=data.feedback_id,
            channel=data.channel.value,
            service_area=data.service_area,
            submitted_at=data.submitted_at,
            score=data.score,
        )
        ledger.feedback_submitted(feedback, at=event.time)
    elif isinstance(event, ComplaintEvent):
        _complaint(ledger, event)
    elif isinstance(event, SlaEvent):
        _clock(ledger, event)
    # sla.at_risk changes no figure.


def _enquiry(ledger: Ledger, event: EnquiryEvent) -> None:
    data = event.data
    enquiry = Enquiry(
        enquiry_id=data.enquiry_id,
        channel=data.channel.value,
        service_area=data.service_area,
        received_at=data.received_at,
    )
    if isinstance(event, EnquiryResolved):
        ledger.enquiry_resolved(enquiry, at=event.time, first_point=event.data.first_point)
    elif isinstance(event, EnquiryReopened):
        ledger.enquiry_reopened(enquiry, at=event.time)
    else:
        ledger.enquiry_seen(enquiry, at=event.time)


def _call_or_visit(ledger: Ledger, event: CallEvent | VisitEvent) -> None:
    if isinstance(event, VisitArrived | VisitAttended):
        visit = Visit(
            visit_id=event.data.visit_id,
            service_area=event.data.service_area,
            arrived_at=event.data.arrived_at,
        )
        if isinstance(event, VisitAttended):
            ledger.visit_attended(visit, at=event.time, wait_seconds=event.data.wait_seconds)
        else:
            ledger.visit_arrived(visit, at=event.time)
        return
    data = event.data
    call = Call(
        call_id=data.call_id,
        channel=data.channel.value,
        service_area=data.service_area,
        offered_at=data.offered_at,
    )
    if isinstance(event, CallAnswered):
        ledger.call_answered(call, at=event.time, wait_seconds=event.data.wait_seconds)
    elif isinstance(event, CallAbandoned):
        ledger.call_abandoned(call, at=event.time, wait_seconds=event.data.wait_seconds)
    else:
        ledger.call_offered(call, at=event.time)


def _complaint(ledger: Ledger, event: ComplaintEvent) -> None:
    # A newer producer's channel or stage (an unrecognised member) is counted under its name,
    # like any other; a decision this build does not know has no place among the outcomes
    # CX06 counts, so it is left uncounted (the consumer counted the event in
    # events_unknown_total), and a complaint closed with one is still finished.
    data = event.data
    complaint = Complaint(
        complaint_id=data.complaint_id, channel=data.channel.value, service_area=data.service_area
    )
    at = event.time
    if isinstance(event, ComplaintReceived):
        ledger.complaint_received(complaint, at=at, stage=event.data.stage.value)
    elif isinstance(event, ComplaintEscalated):
        ledger.complaint_escalated(complaint, at=at, to_stage=event.data.to_stage.value)
    elif isinstance(event, ComplaintExtended):
        ledger.complaint_extended(complaint, at=at, stage=event.data.stage.value)
    elif isinstance(event, ComplaintResponded):
        stage, outcome = event.data.stage.value, event.data.outcome
        if outcome.recognised:
            ledger.complaint_decided(complaint, at=at, stage=stage, outcome=outcome.value)
    elif isinstance(event, ComplaintClosed):
        decision = event.data.ombudsman_decision
        known = decision.value if decision is not None and decision.recognised else None
        ledger.complaint_closed(complaint, at=at, ombudsman_decision=known)
    # complaint.acknowledged changes no figure.


def _clock(ledger: Ledger, event: SlaEvent) -> None:
    data = event.data
    clock = Clock(
        clock_id=data.clock_id,
        commitment=data.commitment,
        contact_type=data.contact_type.value,
        contact_id=data.contact_id,
        channel=data.channel.value,
        service_area=data.service_area,
        started_at=data.started_at,
        due_at=data.due_at,
    )
    if isinstance(event, SlaMet):
        ledger.clock_met(clock, corrects_breach=event.data.corrects_breach)
    elif isinstance(event, SlaBreached):
        ledger.clock_breached(
            clock, breached_at=event.data.breached_at, stopped_at=event.data.stopped_at
        )
    elif isinstance(event, SlaWithdrawn):
        ledger.clock_withdrawn(clock)
    else:
        ledger.clock_stopped(clock)


async def open_breach_counts(session: AsyncSession) -> dict[str, int]:
    """Open breaches by commitment (for the ops gauge)."""
    return await repository.open_breach_counts(session)
