"""Applies events to the read models: each event once, each contact's step counted once, and
every figure on the local day of the thing it counts, however late the event arrives."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from contact_common import events as ev
from contact_common.calendar import WorkingCalendar
from contact_common.events import CloudEvent
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
    ev.EnquiryOpened
    | ev.EnquiryAcknowledged
    | ev.EnquiryAssigned
    | ev.EnquiryResponded
    | ev.EnquiryResolved
    | ev.EnquiryReopened
)
CallEvent = ev.CallOffered | ev.CallAnswered | ev.CallAbandoned
VisitEvent = ev.VisitArrived | ev.VisitAttended
ComplaintEvent = (
    ev.ComplaintReceived
    | ev.ComplaintAcknowledged
    | ev.ComplaintExtended
    | ev.ComplaintResponded
    | ev.ComplaintEscalated
    | ev.ComplaintClosed
)
SlaEvent = ev.SlaMet | ev.SlaBreached | ev.SlaStopped | ev.SlaWithdrawn
Corrected = ev.EnquiryCorrected | ev.ComplaintCorrected
Voided = ev.EnquiryVoided | ev.ComplaintVoided


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
        if isinstance(event, ev.SlaBreached):
            if event.data.stopped_at is None:
                subjects.add(event.data.contact_id)
        elif not isinstance(event, SlaEvent | ev.SlaAtRisk):
            subjects.add(event.data.subject_id)
    return subjects


_Facts = TypeVar("_Facts", Enquiry, Call, Visit, Feedback, Complaint, Clock, Correction)
_FIELDS: dict[type, tuple[str, ...]] = {}


def _facts(kind: type[_Facts], data: object) -> _Facts:
    """The facts the counting rules take from an event's data: `kind`'s fields, by name, with a
    vocabulary's member (a channel, a contact type) as its value."""
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f.name for f in fields(kind))
    values = {name: getattr(data, name) for name in names}
    return kind(**{k: v.value if isinstance(v, Enum) else v for k, v in values.items()})


def _apply(ledger: Ledger, event: CloudEvent) -> None:
    """Tells the ledger what an event says happened."""
    if isinstance(event, Corrected):
        ledger.contact_corrected(_facts(Correction, event.data))
    elif isinstance(event, Voided):
        ledger.contact_voided(event.data.subject_id, at=event.time)
    elif isinstance(event, EnquiryEvent):
        _enquiry(ledger, event)
    elif isinstance(event, CallEvent):
        _call(ledger, event)
    elif isinstance(event, VisitEvent):
        _visit(ledger, event)
    elif isinstance(event, ev.FeedbackSubmitted):
        ledger.feedback_submitted(_facts(Feedback, event.data), at=event.time)
    elif isinstance(event, ComplaintEvent):
        _complaint(ledger, event)
    elif isinstance(event, SlaEvent):
        _clock(ledger, event)
    # sla.at_risk changes no figure.


def _enquiry(ledger: Ledger, event: EnquiryEvent) -> None:
    enquiry = _facts(Enquiry, event.data)
    if isinstance(event, ev.EnquiryResolved):
        ledger.enquiry_resolved(enquiry, at=event.time, first_point=event.data.first_point)
    elif isinstance(event, ev.EnquiryReopened):
        ledger.enquiry_reopened(enquiry, at=event.time)
    else:
        ledger.enquiry_seen(enquiry, at=event.time)


def _visit(ledger: Ledger, event: VisitEvent) -> None:
    visit = _facts(Visit, event.data)
    if isinstance(event, ev.VisitAttended):
        ledger.visit_attended(visit, at=event.time, wait_seconds=event.data.wait_seconds)
    else:
        ledger.visit_arrived(visit, at=event.time)


def _call(ledger: Ledger, event: CallEvent) -> None:
    call = _facts(Call, event.data)
    if isinstance(event, ev.CallOffered):
        ledger.call_offered(call, at=event.time)
        return
    outcome = ledger.call_answered if isinstance(event, ev.CallAnswered) else ledger.call_abandoned
    outcome(call, at=event.time, wait_seconds=event.data.wait_seconds)


def _complaint(ledger: Ledger, event: ComplaintEvent) -> None:
    # A newer producer's channel or stage (an unrecognised member) is counted under its name,
    # like any other; a decision this build does not know has no place among the outcomes
    # CX06 counts, so it is left uncounted (the consumer counted the event in
    # events_unknown_total), and a complaint closed with one is still finished.
    complaint = _facts(Complaint, event.data)
    at = event.time
    if isinstance(event, ev.ComplaintReceived):
        ledger.complaint_received(complaint, at=at, stage=event.data.stage.value)
    elif isinstance(event, ev.ComplaintEscalated):
        ledger.complaint_escalated(complaint, at=at, to_stage=event.data.to_stage.value)
    elif isinstance(event, ev.ComplaintExtended):
        ledger.complaint_extended(complaint, at=at, stage=event.data.stage.value)
    elif isinstance(event, ev.ComplaintResponded):
        stage, outcome = event.data.stage.value, event.data.outcome
        if outcome.recognised:
            ledger.complaint_decided(complaint, at=at, stage=stage, outcome=outcome.value)
    elif isinstance(event, ev.ComplaintClosed):
        decision = event.data.ombudsman_decision
        known = decision.value if decision is not None and decision.recognised else None
        ledger.complaint_closed(complaint, at=at, ombudsman_decision=known)
    # complaint.acknowledged changes no figure.


def _clock(ledger: Ledger, event: SlaEvent) -> None:
    clock = _facts(Clock, event.data)
    if isinstance(event, ev.SlaMet):
        ledger.clock_met(clock, corrects_breach=event.data.corrects_breach)
    elif isinstance(event, ev.SlaBreached):
        ledger.clock_breached(
            clock, breached_at=event.data.breached_at, stopped_at=event.data.stopped_at
        )
    elif isinstance(event, ev.SlaWithdrawn):
        ledger.clock_withdrawn(clock)
    else:
        ledger.clock_stopped(clock)


async def open_breach_counts(session: AsyncSession) -> dict[str, int]:
    """Open breaches by commitment (for the ops gauge)."""
    return await repository.open_breach_counts(session)
