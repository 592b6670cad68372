"""Applies events to the read models: each event once, each contact's step counted once, and
every figure on the local day of the thing it counts, however late the event arrives."""

from __future__ import annotations

from collections.abc import Sequence
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
    SlaBreached,
    SlaMet,
    SlaStopped,
    VisitArrived,
    VisitAttended,
)
from contact_common.inbox import claim_many
from metrics_api.models import inbox_message
from metrics_api.readmodel import repository
from metrics_api.readmodel.domain import CountingRules, Tally, local_day, wait_bucket, within
from metrics_api.readmodel.models import NO_SERVICE_AREA

CONSUMER = "metrics-api"

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


@dataclass
class Applied:
    """What a batch changed: event types applied, duplicates skipped, breaches touched."""

    applied: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    breaches_changed: bool = False


@dataclass
class _Batch:
    session: AsyncSession
    rules: CountingRules
    calendar: WorkingCalendar
    tally: Tally = field(default_factory=Tally)
    breaches_changed: bool = False

    def day(self, at: datetime) -> date:
        return local_day(at, self.rules.timezone)


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
    batch = _Batch(session=session, rules=rules, calendar=calendar)
    outcome = Applied()
    for event in events:
        if event.id not in new_ids:
            outcome.duplicates += 1
            continue
        await _apply(batch, event)
        outcome.applied[event.type] = outcome.applied.get(event.type, 0) + 1
    await repository.flush(session, batch.tally)
    outcome.breaches_changed = batch.breaches_changed
    return outcome


async def _apply(batch: _Batch, event: CloudEvent) -> None:
    if isinstance(event, EnquiryEvent):
        await _enquiry(batch, event)
    elif isinstance(event, CallOffered | CallAnswered | CallAbandoned):
        await _call(batch, event)
    elif isinstance(event, VisitArrived | VisitAttended):
        await _visit(batch, event)
    elif isinstance(event, FeedbackSubmitted):
        await _feedback(batch, event)
    elif isinstance(event, ComplaintEvent):
        await _complaint(batch, event)
    elif isinstance(event, SlaMet | SlaBreached | SlaStopped):
        await _sla(batch, event)
    # sla.at_risk and the remaining steps change no figure.


async def _finished(batch: _Batch, contact_id: UUID, event: CloudEvent) -> None:
    """A contact is done with: nothing of it is left to chase."""
    await repository.mark_finished(batch.session, contact_id, finished_at=event.time)
    if await repository.close_breaches_of_contact(batch.session, contact_id):
        batch.breaches_changed = True


async def _enquiry(batch: _Batch, event: EnquiryEvent) -> None:
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
    counted = await repository.claim_steps(
        batch.session, data.enquiry_id, steps, occurred_at=event.time
    )
    if "opened" in counted:
        batch.tally.add("enquiry_day", key, opened=1)
    if isinstance(event, EnquiryResolved):
        if "resolved" in counted:
            batch.tally.add("enquiry_day", key, resolved=1)
        # A reopened enquiry was not resolved at first point, whichever event came first.
        if event.data.first_point and not await repository.step_counted(
            batch.session, data.enquiry_id, "reopened"
        ):
            first = await repository.claim_steps(
                batch.session, data.enquiry_id, ["first_point"], occurred_at=event.time
            )
            if first:
                batch.tally.add("enquiry_day", key, first_point=1)
        await _finished(batch, data.enquiry_id, event)
    if "reopened" in counted and await repository.step_counted(
        batch.session, data.enquiry_id, "first_point"
    ):
        batch.tally.add("enquiry_day", key, first_point=-1)


async def _call(batch: _Batch, event: CallOffered | CallAnswered | CallAbandoned) -> None:
    data = event.data
    offered_on = batch.day(data.offered_at)
    key = (
        offered_on,
        data.channel.value,
        data.service_area or NO_SERVICE_AREA,
        batch.calendar.in_office_hours(data.offered_at),
    )
    steps = ["offered"] if isinstance(event, CallOffered) else ["offered", "outcome"]
    counted = await repository.claim_steps(
        batch.session, data.call_id, steps, occurred_at=event.time
    )
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
    await _finished(batch, data.call_id, event)


async def _visit(batch: _Batch, event: VisitArrived | VisitAttended) -> None:
    data = event.data
    key = (batch.day(data.arrived_at), data.service_area or NO_SERVICE_AREA)
    steps = ["arrived", "attended"] if isinstance(event, VisitAttended) else ["arrived"]
    counted = await repository.claim_steps(
        batch.session, data.visit_id, steps, occurred_at=event.time
    )
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
        await _finished(batch, data.visit_id, event)


async def _feedback(batch: _Batch, event: FeedbackSubmitted) -> None:
    data = event.data
    counted = await repository.claim_steps(
        batch.session, data.feedback_id, ["submitted"], occurred_at=event.time
    )
    if counted:
        key = (batch.day(data.submitted_at), data.channel.value, data.service_area)
        batch.tally.add("feedback_day", key, responses=1, score_sum=data.score)


async def _complaint(batch: _Batch, event: ComplaintEvent) -> None:
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
        await _finished(batch, data.complaint_id, event)
    if step is None or stage is None:
        return
    counted = await repository.claim_steps(
        batch.session, data.complaint_id, [step], occurred_at=event.time
    )
    if counted:
        key = (batch.day(event.time), data.channel.value, data.service_area, stage.value)
        batch.tally.add("complaint_day", key, **counters)


async def _sla(batch: _Batch, event: SlaMet | SlaBreached | SlaStopped) -> None:
    # A clock counts once, met or breached, on the local date of its deadline (compliance is
    # about deadlines that fell in a period). The clock's record says where it was counted, so
    # a withdrawn breach (sla.met correcting it) moves from breached to met, once.
    data = event.data
    service_area = data.service_area or NO_SERVICE_AREA
    key = (batch.day(data.due_at), data.commitment, data.channel.value, service_area)
    outcome = "met" if isinstance(event, SlaMet) else "breached"
    counted = await repository.counted_clock(batch.session, data.clock_id)
    if counted is None:
        batch.tally.add("sla_day", key, **{outcome: 1})
        await repository.count_clock(batch.session, data.clock_id, outcome, key)
    elif isinstance(event, SlaMet) and event.data.corrects_breach and counted.outcome != "met":
        await _withdraw_breach(batch, event, counted, key)
    # Open breaches to chase: opened by a breach with no stop, closed by the clock's stop (a
    # late sla.breached, sla.stopped, or sla.met correcting the breach).
    if isinstance(event, SlaMet | SlaStopped) or event.data.stopped_at is not None:
        if await repository.close_breach(batch.session, data.clock_id):
            batch.breaches_changed = True
        return
    if counted is not None:
        return
    # Breached with no stop yet: open, unless the contact was finished with after the clock
    # started (that event can arrive on contact.events before the breach on sla.events).
    finished_at = await repository.step_counted(batch.session, data.contact_id, "finished")
    if finished_at is not None and finished_at >= data.started_at:
        return
    await repository.open_breach(
        batch.session,
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
    batch.breaches_changed = True


async def _withdraw_breach(
    batch: _Batch, event: SlaMet, counted: Any, key: tuple[object, ...]
) -> None:
    """Moves a clock counted breached to met, on its (possibly extended) deadline's date."""
    breached_key: tuple[object, ...] | None = None
    if counted.outcome == "breached":
        breached_key = (counted.due_on, counted.commitment, counted.channel, counted.service_area)
    else:
        # Counted before the record kept its outcome: only a breach still open says where.
        breach = await repository.breach_to_chase(batch.session, event.data.clock_id)
        if breach is not None:
            breached_key = (
                batch.day(breach.due_at),
                breach.commitment,
                breach.channel,
                breach.service_area,
            )
    if breached_key is None:
        return
    batch.tally.add("sla_day", breached_key, breached=-1)
    batch.tally.add("sla_day", key, met=1)
    await repository.count_clock(batch.session, event.data.clock_id, "met", key)


async def open_breach_counts(session: AsyncSession) -> dict[str, int]:
    """Open breaches by commitment (for the ops gauge)."""
    return await repository.open_breach_counts(session)
