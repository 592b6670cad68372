"""Applies events to the read models: each event once, each contact's step counted once, and
every figure on the local day of the thing it counts, however late the event arrives."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
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
    ComplaintEscalated,
    ComplaintExtended,
    ComplaintReceived,
    ComplaintResponded,
    ComplaintStage,
    EnquiryAcknowledged,
    EnquiryAssigned,
    EnquiryOpened,
    EnquiryReopened,
    EnquiryResolved,
    EnquiryResponded,
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
from metrics_api.readmodel.domain import CountingRules, Tally, local_day, wait_bucket, within
from metrics_api.readmodel.models import NO_SERVICE_AREA
from metrics_api.readmodel.repository import ClockCount

CONSUMER = "metrics-api"
WITHDRAWN = "withdrawn"
"""A clock's outcome record once its breach was withdrawn: counted nowhere until decided again."""

EnquiryEvent = (
    EnquiryOpened
    | EnquiryAcknowledged
    | EnquiryAssigned
    | EnquiryResponded
    | EnquiryResolved
    | EnquiryReopened
)
ComplaintEvent = (
    ComplaintReceived
    | ComplaintAcknowledged
    | ComplaintExtended
    | ComplaintResponded
    | ComplaintEscalated
    | ComplaintClosed
)
SlaEvent = SlaMet | SlaBreached | SlaStopped | SlaWithdrawn


@dataclass
class Applied:
    """What a batch changed: event types applied, duplicates skipped, breaches touched."""

    applied: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    breaches_changed: bool = False


@dataclass
class _Batch:
    """A batch's view of the read models: read once before its first event, changed by each
    event in turn (so an event sees what the ones before it in the batch did), written once
    after its last."""

    rules: CountingRules
    calendar: WorkingCalendar
    steps: dict[tuple[UUID, str], datetime]
    clocks: dict[UUID, ClockCount]
    breaches: dict[UUID, dict[str, Any]]
    tally: Tally = field(default_factory=Tally)
    new_steps: dict[tuple[UUID, str], datetime] = field(default_factory=dict)
    finished: dict[UUID, datetime] = field(default_factory=dict)
    finished_contacts: set[UUID] = field(default_factory=set)
    counted_clocks: dict[UUID, ClockCount] = field(default_factory=dict)
    closed_clocks: set[UUID] = field(default_factory=set)
    opened: set[UUID] = field(default_factory=set)
    breaches_changed: bool = False

    def day(self, at: datetime) -> date:
        return local_day(at, self.rules.timezone)

    def claim_steps(
        self, subject_id: UUID, steps: Iterable[str], *, occurred_at: datetime
    ) -> set[str]:
        """Counts steps of a contact; returns those not counted before."""
        claimed = set()
        for step in steps:
            if (subject_id, step) not in self.steps:
                self.steps[subject_id, step] = occurred_at
                self.new_steps[subject_id, step] = occurred_at
                claimed.add(step)
        return claimed

    def step_counted(self, subject_id: UUID, step: str) -> datetime | None:
        """When a step of a contact happened, if it has been counted."""
        return self.steps.get((subject_id, step))

    def finish(self, contact_id: UUID, at: datetime) -> None:
        """A contact is done with (the latest time, after a reopen): nothing of it is left to
        chase."""
        finished_at = self.steps.get((contact_id, "finished"))
        if finished_at is None or at > finished_at:
            self.steps[contact_id, "finished"] = at
            self.finished[contact_id] = at
        self.finished_contacts.add(contact_id)
        for clock_id in [c for c, b in self.breaches.items() if b["contact_id"] == contact_id]:
            del self.breaches[clock_id]
            self.breaches_changed = True

    def count_clock(self, clock_id: UUID, outcome: str, key: tuple[Any, ...]) -> None:
        """Records (or moves) where a clock is counted."""
        self.clocks[clock_id] = self.counted_clocks[clock_id] = ClockCount(outcome, key)

    def open_breach(self, **breach: Any) -> None:
        """A breach to chase (once per clock)."""
        if breach["clock_id"] not in self.breaches:
            self.breaches[breach["clock_id"]] = breach
            self.opened.add(breach["clock_id"])
        self.breaches_changed = True

    def close_breach(self, clock_id: UUID) -> None:
        """A clock's breach is no longer to chase."""
        self.closed_clocks.add(clock_id)
        if self.breaches.pop(clock_id, None) is not None:
            self.breaches_changed = True


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
    batch = _Batch(
        rules=rules,
        calendar=calendar,
        steps=await repository.steps_of(session, _subjects(fresh.values())),
        clocks=await repository.clocks_of(session, clock_ids),
        breaches=await repository.breaches_of(session, clock_ids),
    )
    for event in fresh.values():
        _apply(batch, event)
        outcome.applied[event.type] = outcome.applied.get(event.type, 0) + 1
    await repository.add_steps(session, batch.new_steps)
    await repository.mark_finished(session, batch.finished)
    await repository.count_clocks(session, batch.counted_clocks)
    closed = await repository.close_breaches(
        session, clock_ids=batch.closed_clocks, contact_ids=batch.finished_contacts
    )
    # After the deletes: a breach opened after its contact finished (a reopen) stays open.
    await repository.open_breaches(
        session, [batch.breaches[c] for c in batch.opened if c in batch.breaches]
    )
    await repository.flush(session, batch.tally)
    outcome.breaches_changed = batch.breaches_changed or closed > 0
    return outcome


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


def _apply(batch: _Batch, event: CloudEvent) -> None:
    if isinstance(event, EnquiryEvent):
        _enquiry(batch, event)
    elif isinstance(event, CallOffered | CallAnswered | CallAbandoned):
        _call(batch, event)
    elif isinstance(event, VisitArrived | VisitAttended):
        _visit(batch, event)
    elif isinstance(event, FeedbackSubmitted):
        _feedback(batch, event)
    elif isinstance(event, ComplaintEvent):
        _complaint(batch, event)
    elif isinstance(event, SlaEvent):
        _sla(batch, event)
    # sla.at_risk and the remaining steps change no figure.


def _enquiry(batch: _Batch, event: EnquiryEvent) -> None:
    # Every enquiry event repeats channel, service area and received_at, so whichever arrives
    # first counts the enquiry, and a resolution counts against the day it was received: CX04
    # is "enquiries resolved at first point / enquiries", one cohort for both.
    data = event.data
    key = (batch.day(data.received_at), data.channel.value, data.service_area)
    steps = ["opened"]
    if isinstance(event, EnquiryResolved):
        steps.append("resolved")
    if isinstance(event, EnquiryReopened):
        steps.append("reopened")
    counted = batch.claim_steps(data.enquiry_id, steps, occurred_at=event.time)
    if "opened" in counted:
        batch.tally.add("enquiry_day", key, opened=1)
    if isinstance(event, EnquiryResolved):
        if "resolved" in counted:
            batch.tally.add("enquiry_day", key, resolved=1)
        # A reopened enquiry was not resolved at first point, whichever event came first.
        if event.data.first_point and not batch.step_counted(data.enquiry_id, "reopened"):
            first = batch.claim_steps(data.enquiry_id, ["first_point"], occurred_at=event.time)
            if first:
                batch.tally.add("enquiry_day", key, first_point=1)
        batch.finish(data.enquiry_id, event.time)
    if "reopened" in counted and batch.step_counted(data.enquiry_id, "first_point"):
        batch.tally.add("enquiry_day", key, first_point=-1)


def _call(batch: _Batch, event: CallOffered | CallAnswered | CallAbandoned) -> None:
    data = event.data
    offered_on = batch.day(data.offered_at)
    key = (
        offered_on,
        data.channel.value,
        data.service_area or NO_SERVICE_AREA,
        batch.calendar.in_office_hours(data.offered_at),
    )
    steps = ["offered"] if isinstance(event, CallOffered) else ["offered", "outcome"]
    counted = batch.claim_steps(data.call_id, steps, occurred_at=event.time)
    if "offered" in counted:
        batch.tally.add("call_day", key, offered=1)
    if "outcome" not in counted:
        return
    target = batch.rules.phone_answer_seconds
    if isinstance(event, CallAnswered):
        wait = event.data.wait_seconds
        batch.tally.add(
            "call_day",
            key,
            answered=1,
            answered_within_target=int(within(wait, target)),
            wait_seconds_sum=wait,
        )
        batch.tally.peak("call_day", key, "wait_seconds_max", wait)
        batch.tally.add(
            "call_wait_day", (offered_on, data.channel.value, wait_bucket(wait)), answered=1
        )
    elif isinstance(event, CallAbandoned):
        short = within(event.data.wait_seconds, target)
        batch.tally.add("call_day", key, abandoned=1, short_abandoned=int(short))
    batch.finish(data.call_id, event.time)


def _visit(batch: _Batch, event: VisitArrived | VisitAttended) -> None:
    data = event.data
    key = (batch.day(data.arrived_at), data.service_area or NO_SERVICE_AREA)
    steps = ["arrived", "attended"] if isinstance(event, VisitAttended) else ["arrived"]
    counted = batch.claim_steps(data.visit_id, steps, occurred_at=event.time)
    if "arrived" in counted:
        batch.tally.add("visit_day", key, arrived=1)
    if "attended" in counted and isinstance(event, VisitAttended):
        wait = event.data.wait_seconds
        batch.tally.add(
            "visit_day",
            key,
            attended=1,
            attended_within_target=int(within(wait, batch.rules.reception_attend_seconds)),
            wait_seconds_sum=wait,
        )
        batch.tally.peak("visit_day", key, "wait_seconds_max", wait)
        batch.finish(data.visit_id, event.time)


def _feedback(batch: _Batch, event: FeedbackSubmitted) -> None:
    data = event.data
    counted = batch.claim_steps(data.feedback_id, ["submitted"], occurred_at=event.time)
    if counted:
        key = (batch.day(data.submitted_at), data.channel.value, data.service_area)
        batch.tally.add("feedback_day", key, responses=1, score_sum=data.score)


def _complaint(batch: _Batch, event: ComplaintEvent) -> None:
    # Each step counts on its own day: received on the day received, a decision on the day it
    # was sent (CX06 is "fully upheld / decided" for decisions made in the period).
    data = event.data
    step: str | None = None
    stage: ComplaintStage | None = None
    counters: dict[str, int] = {}
    if isinstance(event, ComplaintReceived):
        step, stage, counters = "received", event.data.stage, {"received": 1}
    elif isinstance(event, ComplaintEscalated):
        stage = event.data.to_stage
        step, counters = f"escalated:{stage.value}", {"escalated_in": 1}
    elif isinstance(event, ComplaintExtended):
        stage = event.data.stage
        step, counters = f"extended:{stage.value}", {"extended": 1}
    elif isinstance(event, ComplaintResponded):
        stage = event.data.stage
        step = f"decided:{stage.value}"
        counters = {"decided": 1, event.data.outcome.value: 1}
    elif isinstance(event, ComplaintClosed):
        if event.data.ombudsman_decision is not None:
            stage = ComplaintStage.ombudsman
            step = "decided:ombudsman"
            counters = {"decided": 1, event.data.ombudsman_decision.value: 1}
        batch.finish(data.complaint_id, event.time)
    if step is None or stage is None:
        return
    counted = batch.claim_steps(data.complaint_id, [step], occurred_at=event.time)
    if counted:
        key = (batch.day(event.time), data.channel.value, data.service_area, stage.value)
        batch.tally.add("complaint_day", key, **counters)


def _sla(batch: _Batch, event: SlaEvent) -> None:
    # A clock counts once, met or breached, on the local date of its deadline (compliance is
    # about deadlines that fell in a period). The clock's record says where it was counted, so
    # a withdrawn breach (sla.met correcting it) moves from breached to met, once, and one
    # withdrawn outright (sla.withdrawn) stops counting until the clock is decided again.
    data = event.data
    if isinstance(event, SlaWithdrawn):
        _uncount_breach(batch, event)
        return
    service_area = data.service_area or NO_SERVICE_AREA
    key = (batch.day(data.due_at), data.commitment, data.channel.value, service_area)
    outcome = "met" if isinstance(event, SlaMet) else "breached"
    counted = batch.clocks.get(data.clock_id)
    if counted is not None and counted.outcome == WITHDRAWN:
        counted = None  # decided again after its breach was withdrawn: counted afresh
    if counted is None:
        batch.tally.add("sla_day", key, **{outcome: 1})
        batch.count_clock(data.clock_id, outcome, key)
    elif isinstance(event, SlaMet) and event.data.corrects_breach and counted.outcome != "met":
        _withdraw_breach(batch, event, counted, key)
    # Open breaches to chase: opened by a breach with no stop, closed by the clock's stop (a
    # late sla.breached, sla.stopped, or sla.met correcting the breach).
    if isinstance(event, SlaMet | SlaStopped) or event.data.stopped_at is not None:
        batch.close_breach(data.clock_id)
        return
    if counted is not None:
        return
    # Breached with no stop yet: open, unless the contact was finished with after the clock
    # started (that event can arrive on contact.events before the breach on sla.events).
    finished_at = batch.step_counted(data.contact_id, "finished")
    if finished_at is not None and finished_at >= data.started_at:
        return
    batch.open_breach(
        clock_id=data.clock_id,
        commitment=data.commitment,
        contact_type=data.contact_type.value,
        contact_id=data.contact_id,
        channel=data.channel.value,
        service_area=service_area,
        started_at=data.started_at,
        due_at=data.due_at,
        breached_at=event.data.breached_at,
    )


def _uncount_breach(batch: _Batch, event: SlaWithdrawn) -> None:
    """A breach withdrawn (a short abandon or an extension recorded after the timer flagged
    it): no longer counted breached, nor open to chase."""
    clock_id = event.data.clock_id
    counted = batch.clocks.get(clock_id)
    if counted is not None and counted.outcome == "breached":
        batch.tally.add("sla_day", counted.key, breached=-1)
        batch.count_clock(clock_id, WITHDRAWN, counted.key)
    batch.close_breach(clock_id)


def _withdraw_breach(
    batch: _Batch, event: SlaMet, counted: ClockCount, key: tuple[object, ...]
) -> None:
    """Moves a clock counted breached to met, on its (possibly extended) deadline's date."""
    breached_key: tuple[object, ...] | None = None
    if counted.outcome == "breached":
        breached_key = counted.key
    else:
        # Counted before the record kept its outcome: only a breach still open says where.
        breach = batch.breaches.get(event.data.clock_id)
        if breach is not None:
            breached_key = (
                batch.day(breach["due_at"]),
                breach["commitment"],
                breach["channel"],
                breach["service_area"],
            )
    if breached_key is None:
        return
    batch.tally.add("sla_day", breached_key, breached=-1)
    batch.tally.add("sla_day", key, met=1)
    batch.count_clock(event.data.clock_id, "met", key)


async def open_breach_counts(session: AsyncSession) -> dict[str, int]:
    """Open breaches by commitment (for the ops gauge)."""
    return await repository.open_breach_counts(session)
