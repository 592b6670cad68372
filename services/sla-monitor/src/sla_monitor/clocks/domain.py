"""The rules of a commitment's clock (DESIGN.md, "The commitments"), on plain values, no I/O.

A clock runs per (commitment, contact, sequence): the sequence tells a reopened enquiry's new
response clock (its reopen count) and a complaint's stages (1, 2, 3) apart. Every decision is
made from the times the events carry, never from when they arrive, so replaying the same
events reaches the same clocks; only the timers ask what time it is now.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum
from operator import attrgetter
from typing import Literal
from uuid import UUID, uuid5

from contact_common.calendar import WorkingCalendar
from contact_common.commitments import Commitment, Policy, at_risk_at, due_at, extended_due_at
from contact_common.events import (
    BreachWithdrawal,
    Channel,
    ClockStatus,
    CloudEvent,
    ComplaintStage,
    ContactType,
)

Status = ClockStatus  # the clocks' name for it, imported by the rest of the service

# Clock and notice ids are derived, not drawn: the same clock gets the same id, and its breach
# the same event id, however often the events are replayed (consumers de-duplicate on it).
CLOCK_NAMESPACE = UUID("5f0c3c52-7a0e-4d55-9a39-3c1f6f0e5a11")

_STAGE_SEQUENCE = {
    ComplaintStage.stage_1: 1,
    ComplaintStage.stage_2: 2,
    ComplaintStage.ombudsman: 3,
}
_FAMILY = {
    "enquiry": ContactType.enquiry,
    "call": ContactType.call,
    "visit": ContactType.visit,
    "complaint": ContactType.complaint,
}


class Role(StrEnum):
    """What an event does to a commitment's clock."""

    start = "start"
    stop = "stop"
    abandon = "abandon"
    extend = "extend"


NoticeKind = Literal["sla.met", "sla.breached", "sla.at_risk", "sla.stopped", "sla.withdrawn"]


@dataclass(frozen=True, slots=True)
class Step:
    """A contact event reduced to what the clocks need."""

    event_id: UUID
    type: str
    subject: UUID
    occurred_at: datetime
    contact_type: ContactType
    channel: Channel
    service_area: str | None
    stage: ComplaintStage | None = None
    sequence: int = 0
    working_days: int | None = None
    # A correction's corrected receipt (its occurred_at is when the correction was recorded).
    received_at: datetime | None = None


CORRECTED = frozenset({"enquiry.corrected", "complaint.corrected"})
VOIDED = frozenset({"enquiry.voided", "complaint.voided"})
AMENDMENTS = CORRECTED | VOIDED
"""Events that restate or end a contact: no commitment names them, every clock of it hears them."""

_OPENING = {ContactType.enquiry: "enquiry.opened", ContactType.complaint: "complaint.received"}


@dataclass(slots=True)
class SlaClock:
    """One clock: a commitment for one contact."""

    id: UUID
    commitment: str
    subject: UUID
    sequence: int
    partition: int
    contact_type: ContactType
    channel: Channel
    service_area: str | None
    stage: ComplaintStage | None
    started_at: datetime
    due_at: datetime
    at_risk_at: datetime
    status: Status = Status.pending
    stopped_at: datetime | None = None
    breached_at: datetime | None = None
    flagged_at: datetime | None = None
    at_risk_published: bool = False
    extended_at: datetime | None = None
    # When a breach flagged with no stop was withdrawn (wall clock): a stop, short abandon or
    # extension made by the deadline was recorded after the timer had flagged it.
    breach_withdrawn_at: datetime | None = None
    # How often a correction or void withdrew the clock's decision: its later notices are new
    # events, not repeats of the ones withdrawn.
    revision: int = 0

    def snapshot(self) -> SlaClock:
        """A copy of the clock as it stands now (a notice must not see later changes)."""
        # Copying with dataclasses.replace was the costliest part of evaluating a batch; every
        # field is an init field, in order, so one C-level attrgetter call copies them all.
        return SlaClock(*_clock_fields(self))


_clock_fields = attrgetter(*(f.name for f in fields(SlaClock)))


@dataclass(frozen=True, slots=True)
class Notice:
    """An sla.* event to publish about a clock (a snapshot of it at that moment)."""

    kind: NoticeKind
    clock: SlaClock
    stopped_at: datetime | None = None
    corrects_breach: bool = False
    withdrawn: BreachWithdrawal | None = None
    status_after: Status | None = None
    """Where a withdrawn clock is now, when a correction or void withdrew it."""


def clock_id(commitment: str, subject: UUID, sequence: int) -> UUID:
    """The clock's id: the same for the same commitment, contact and sequence, always."""
    return uuid5(CLOCK_NAMESPACE, f"{commitment}/{subject}/{sequence}")


def notice_id(notice: Notice) -> UUID:
    """The notice's event id, the same however often the events are replayed.

    One of each kind per clock, but for two that may come twice: a breach withdrawn because
    an extension was recorded after the timer flagged it can breach again against the extended
    deadline (the extension is once per clock), and each withdrawal has its reason.
    """
    clock = notice.clock
    if clock.revision:
        suffix = f"/{notice.withdrawn}" if notice.kind == "sla.withdrawn" else ""
        return uuid5(clock.id, f"{notice.kind}{suffix}/revision-{clock.revision}")
    if notice.kind == "sla.breached" and clock.extended_at is not None:
        return uuid5(clock.id, "sla.breached/extended")
    if notice.kind == "sla.withdrawn":
        return uuid5(clock.id, f"sla.withdrawn/{notice.withdrawn}")
    return uuid5(clock.id, notice.kind)


def step_of(event: CloudEvent) -> Step | None:
    """The clock-relevant facts of a contact event; None for events no clock listens to.

    An event of a newer producer may carry a channel or a stage this build does not know (an
    unrecognised member). A channel it does not know is kept: such a contact still gets the
    clocks of commitments that do not restrict channels, and none of those that list channels
    (none lists it). A stage it does not know gives None: a stage's clocks are numbered by
    their place in the procedure, which this build cannot tell (docs/decisions.md).
    """
    family = _FAMILY.get(event.type.split(".", 1)[0])
    if family is None:
        return None
    data = event.data
    # The data's field values: getattr of a field this type lacks goes through pydantic's
    # __getattr__ and an AttributeError, slow at thousands of events a second.
    values = data.__dict__
    # A correction's or void's data is the contact's (corrected) facts, with its receipt.
    amendment = event.type in AMENDMENTS
    stage: ComplaintStage | None = None
    sequence = 0
    # The event type tells the data class, which the envelope types only as EventData: every
    # complaint's data has a stage (an escalation's is to_stage), a reopening's a reopen_count.
    if family is ContactType.complaint and not amendment:
        stage = data.to_stage if event.type == "complaint.escalated" else data.stage  # type: ignore[attr-defined]
        if not stage.recognised:
            return None
        sequence = _STAGE_SEQUENCE[stage]
    elif event.type == "enquiry.reopened":
        sequence = data.reopen_count  # type: ignore[attr-defined]
    return Step(
        event_id=event.id,
        type=event.type,
        subject=data.subject_id,
        occurred_at=data.occurred_at,
        contact_type=family,
        # A member already, recognised or not (a Channel is its own value).
        channel=Channel(values["channel"]),
        service_area=values.get("service_area"),
        stage=stage,
        sequence=sequence,
        working_days=None if amendment else values.get("working_days"),
        received_at=values["received_at"] if amendment else None,
    )


def role_of(commitment: Commitment, event_type: str) -> Role | None:
    """What `event_type` does to `commitment`'s clocks, if anything (a start wins)."""
    if event_type in commitment.start_events:
        return Role.start
    if event_type in commitment.stop_events:
        return Role.stop
    if event_type in commitment.abandon_events:
        return Role.abandon
    if event_type in commitment.extend_events:
        return Role.extend
    return None


def covers(commitment: Commitment, step: Step) -> bool:
    """True if the commitment is about contacts like this one (type and channel)."""
    if step.contact_type is not commitment.contact_type:
        return False
    channels = commitment.applies_to.channels
    return channels is None or step.channel in channels


def applies(commitment: Commitment, step: Step, calendar: WorkingCalendar) -> bool:
    """True if `step` starts a clock of `commitment`: the contact, its stage and the hour fit.

    Elapsed targets apply only to calls and visits that start in office hours; the standby
    contractor's channel is simply not among their channels.
    """
    if not covers(commitment, step):
        return False
    stages = commitment.applies_to.stages
    if stages is not None and step.stage not in stages:
        return False
    return not commitment.applies_to.office_hours_only or calendar.in_office_hours(step.occurred_at)


def start_clock(
    commitment: Commitment, step: Step, *, partition: int, calendar: WorkingCalendar
) -> SlaClock | None:
    """A new clock of `commitment` started by `step`, or None if the commitment does not apply."""
    if not applies(commitment, step, calendar):
        return None
    started_at = step.occurred_at
    due = due_at(commitment, started_at, calendar)
    return SlaClock(
        id=clock_id(commitment.id, step.subject, step.sequence),
        commitment=commitment.id,
        subject=step.subject,
        sequence=step.sequence,
        partition=partition,
        contact_type=commitment.contact_type,
        channel=step.channel,
        service_area=step.service_area,
        stage=step.stage,
        started_at=started_at,
        due_at=due,
        at_risk_at=at_risk_at(commitment, started_at, due, calendar),
    )


def _same_stage(clock: SlaClock, step: Step) -> bool:
    return clock.stage is None or step.stage is None or clock.stage is step.stage


def reaches(clock: SlaClock, step: Step, role: Role) -> bool:
    """True if `step` can act on `clock`: the same stage, and not before the clock started.

    An extension is of the stage's deadline, whenever it was agreed: under the Complaint
    Handling Code one agreed before the acknowledgement extends the response clock that the
    acknowledgement starts.
    """
    if not _same_stage(clock, step):
        return False
    return role is Role.extend or step.occurred_at >= clock.started_at


def open_breach(clock: SlaClock) -> bool:
    """True if the clock was flagged breached with no stop yet (its timer, or a late extension)."""
    return clock.status is Status.breached and clock.stopped_at is None


def settle(
    clock: SlaClock,
    role: Role,
    step: Step,
    *,
    commitment: Commitment,
    calendar: WorkingCalendar,
    now: datetime,
) -> tuple[bool, Notice | None]:
    """Applies a stop, abandon or extension to `clock` in place: (changed?, notice to publish).

    - A stop by the deadline meets the commitment; a stop after it is a breach, flagged at once
      (the breach happened at the deadline, the stop is kept as stopped_at).
    - An abandon (a call hung up, a complaint closed unanswered) within the target excludes
      the clock: a short abandon, neither met nor breached; after the target it is a breach.
    - An extension (once) replaces the deadline, counted from the deadline it replaces; one
      made after the deadline is a breach.
    - Late records: the outcome depends only on the events' own times, never on whether the
      timer flagged a breach before a step made in time was recorded, so the live run and a
      replay of the same events agree. A breach the timer flagged is withdrawn when a step
      made by the deadline arrives: a stop meets the clock (sla.met correcting the breach), a
      short abandon excludes it and an extension runs it again to its new deadline (each
      sla.withdrawn); a step after the deadline leaves the breach standing, and a late stop
      or abandon closes it (sla.stopped).
    - Otherwise a clock already stopped or breached keeps its outcome: a later-arriving stop
      only records the earliest time it was stopped.
    """
    if role is Role.extend:
        return _settle_extension(clock, step, commitment=commitment, calendar=calendar, now=now)
    at = step.occurred_at
    if clock.status is Status.pending:
        if at <= clock.due_at:
            clock.stopped_at = at
            if role is Role.abandon:
                clock.status = Status.excluded
                return True, None
            clock.status = Status.met
            return True, Notice("sla.met", clock.snapshot(), stopped_at=at)
        return True, _breach(clock, stopped_at=at, now=now)
    if open_breach(clock):
        return True, _settle_open_breach(clock, role, at, now=now)
    if clock.stopped_at is None or at < clock.stopped_at:
        # Stopped already (met, excluded, or breached by a late stop or closed since): the
        # outcome stands, but the earliest stop is the one recorded, whatever the order.
        clock.stopped_at = at
        return True, None
    return False, None


def _settle_extension(
    clock: SlaClock, step: Step, *, commitment: Commitment, calendar: WorkingCalendar, now: datetime
) -> tuple[bool, Notice | None]:
    at = step.occurred_at
    if clock.extended_at is not None or step.working_days is None:
        return False, None
    if clock.status is Status.pending:
        if at > clock.due_at:
            return True, _breach(clock, stopped_at=None, now=now)
        _extend(clock, step, commitment=commitment, calendar=calendar)
        return True, None
    if open_breach(clock) and at <= clock.due_at:
        # Agreed in time, recorded after the timer flagged the breach: the clock runs again to
        # its new deadline, as a replay finds it (the timer flags it again if that has passed).
        _extend(clock, step, commitment=commitment, calendar=calendar)
        return True, _withdraw(clock, BreachWithdrawal.extended, now=now)
    return False, None


def _settle_open_breach(clock: SlaClock, role: Role, at: datetime, *, now: datetime) -> Notice:
    clock.stopped_at = at
    if at <= clock.due_at:
        # Events are recorded late (a contractor's the next morning, a bulk load of past
        # contacts): the step happened in time, so the clock is met or excluded, as a replay
        # of the same events finds; the withdrawn breach is never flagged again (not pending).
        if role is Role.abandon:
            return _withdraw(clock, BreachWithdrawal.abandoned, now=now)
        clock.status = Status.met
        clock.breached_at = None
        clock.breach_withdrawn_at = now
        return Notice("sla.met", clock.snapshot(), stopped_at=at, corrects_breach=True)
    # Still a breach (at the deadline, extended or not), and no longer open to chase.
    clock.breached_at = clock.due_at
    return Notice("sla.stopped", clock.snapshot(), stopped_at=at)


def _extend(
    clock: SlaClock, step: Step, *, commitment: Commitment, calendar: WorkingCalendar
) -> None:
    # Always the policy's own calculation from the deadline it replaces, never a due date the
    # publisher computed: it may count from another start (the Complaint Handling Code's).
    assert step.working_days is not None
    clock.extended_at = step.occurred_at
    clock.due_at = extended_due_at(clock.due_at, step.working_days, calendar)
    clock.at_risk_at = at_risk_at(commitment, clock.started_at, clock.due_at, calendar)


AFTER_WITHDRAWAL = {
    BreachWithdrawal.extended: Status.pending,
    BreachWithdrawal.abandoned: Status.excluded,
}
"""Where a clock goes when its breach is withdrawn: running again, or excluded."""


def _withdraw(clock: SlaClock, reason: BreachWithdrawal, *, now: datetime) -> Notice:
    clock.breach_withdrawn_at = now
    withdrawn = clock.snapshot()  # the notice names the breach it withdraws (its breached_at)
    clock.status = AFTER_WITHDRAWAL[reason]
    clock.breached_at = None
    clock.flagged_at = None
    return Notice("sla.withdrawn", withdrawn, stopped_at=clock.stopped_at, withdrawn=reason)


def _breach(clock: SlaClock, *, stopped_at: datetime | None, now: datetime) -> Notice:
    clock.status = Status.breached
    clock.breached_at = clock.due_at
    clock.stopped_at = stopped_at
    clock.flagged_at = now
    return Notice("sla.breached", clock.snapshot(), stopped_at=stopped_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class Revision:
    """A clock's facts as a correction restates them, and whether its commitment still applies."""

    channel: Channel
    service_area: str | None
    started_at: datetime
    due_at: datetime
    at_risk_at: datetime
    applies: bool


def _unchanged(clock: SlaClock, facts: Revision) -> bool:
    return (
        clock.channel == facts.channel
        and clock.service_area == facts.service_area
        and clock.started_at == facts.started_at
        and clock.due_at == facts.due_at
        and (clock.status is Status.cancelled) is (not facts.applies)
    )


def revise(clock: SlaClock, facts: Revision, *, now: datetime) -> tuple[bool, list[Notice]]:
    """Restates a clock after a correction, in place: (changed?, notices to publish).

    A decided clock (met or breached) whose facts change is withdrawn (sla.withdrawn, cause
    corrected) and decided again from the same stop against the corrected deadline: met by
    it, breached after it (a new sla.met or sla.breached, so every figure moves with it); with
    no stop it runs again, and the timer breaches it as usual if the new deadline has passed.
    A commitment that no longer applies (the channel was wrong) cancels its clock; one that
    applies again revives it. A short abandon stays excluded.
    """
    if _unchanged(clock, facts):
        return False, []
    notices: list[Notice] = []
    withdrawn: SlaClock | None = None
    if clock.status in (Status.met, Status.breached):
        clock.revision += 1
        clock.breach_withdrawn_at = now
        withdrawn = clock.snapshot()
    clock.channel, clock.service_area = facts.channel, facts.service_area
    clock.started_at, clock.due_at, clock.at_risk_at = (
        facts.started_at,
        facts.due_at,
        facts.at_risk_at,
    )
    decided_again: Notice | None = None
    if not facts.applies:
        _cancel(clock)
    elif clock.status is Status.excluded:
        pass
    elif clock.stopped_at is not None:
        decided_again = _decide_again(clock, now=now)
    else:
        clock.status, clock.breached_at, clock.flagged_at = Status.pending, None, None
    if withdrawn is not None:
        cause = BreachWithdrawal.corrected
        notices.append(
            Notice("sla.withdrawn", withdrawn, withdrawn=cause, status_after=clock.status)
        )
    if decided_again is not None:
        notices.append(decided_again)
    return True, notices


def _decide_again(clock: SlaClock, *, now: datetime) -> Notice:
    """A stopped clock decided again against its (corrected) deadline."""
    assert clock.stopped_at is not None
    if clock.stopped_at <= clock.due_at:
        clock.status, clock.breached_at, clock.flagged_at = Status.met, None, None
        return Notice("sla.met", clock.snapshot(), stopped_at=clock.stopped_at)
    return _breach(clock, stopped_at=clock.stopped_at, now=now)


def _cancel(clock: SlaClock) -> None:
    clock.status = Status.cancelled
    clock.breached_at = None
    clock.flagged_at = None


def cancel(clock: SlaClock, *, now: datetime) -> tuple[bool, Notice | None]:
    """Cancels the clock of a voided contact, in place: (changed?, sla.withdrawn if it had
    been decided, so that neither its breach nor its met counts anywhere)."""
    if clock.status is Status.cancelled:
        return False, None
    notice = None
    if clock.status in (Status.met, Status.breached):
        clock.revision += 1
        clock.breach_withdrawn_at = now
        notice = Notice(
            "sla.withdrawn",
            clock.snapshot(),
            withdrawn=BreachWithdrawal.voided,
            status_after=Status.cancelled,
        )
    _cancel(clock)
    return True, notice


@dataclass
class Evaluation:
    """What a batch of steps did: clocks to insert and update, steps to keep, notices."""

    started: list[SlaClock] = field(default_factory=list)
    changed: dict[UUID, SlaClock] = field(default_factory=dict)
    held: list[Step] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


class Ledger:
    """The clocks and kept steps of the contacts in a batch, and the rules that move them.

    A stop, abandon or extension that no running clock took is kept (held): it may belong to
    a clock whose start has not arrived yet (events out of order) or to a later clock (a
    reopened enquiry's). When a clock starts, the kept steps of its contact settle it.
    """

    def __init__(
        self,
        *,
        policy: Policy,
        calendar: WorkingCalendar,
        now: datetime,
        clocks: Iterable[SlaClock] = (),
        held: Iterable[Step] = (),
    ) -> None:
        self.policy = policy
        self.calendar = calendar
        self.now = now
        self._clocks: dict[UUID, list[SlaClock]] = {}
        self._ids: set[UUID] = set()
        self._held: dict[UUID, list[Step]] = {}
        self._held_ids: set[UUID] = set()
        self._started_ids: set[UUID] = set()
        self.evaluation = Evaluation()
        for clock in clocks:
            self._clocks.setdefault(clock.subject, []).append(clock)
            self._ids.add(clock.id)
        for step in held:
            self._held.setdefault(step.subject, []).append(step)
            self._held_ids.add(step.event_id)

    def clocks_of(self, subject: UUID) -> list[SlaClock]:
        """The contact's clocks as they now stand."""
        return list(self._clocks.get(subject, ()))

    def apply(self, step: Step, *, partition: int) -> None:
        """Applies one step: starts the clocks it starts, settles the ones it reaches."""
        if step.type in CORRECTED:
            self._correct(step, partition)
            return
        if step.type in VOIDED:
            self._void(step)
            return
        settles = False
        unsettled = False
        for commitment in self.policy.listening.get(step.type, ()):
            role = role_of(commitment, step.type)
            if role is Role.start:
                self._start(commitment, step, partition)
            # A step may start one commitment and stop another (an acknowledgement under the
            # Complaint Handling Code starts the response clock and stops the acknowledgement).
            elif role is not None and covers(commitment, step):
                settles = True
                if not self._settle_running(commitment, role, step):
                    unsettled = True
        # An enquiry's stop is kept even when a clock took it: it may also be the first stop of
        # a reopened enquiry's new clock, whose reopening has not arrived yet.
        if unsettled or (settles and step.contact_type is ContactType.enquiry):
            self._hold(step)

    def _voided(self, subject: UUID) -> bool:
        return any(held.type in VOIDED for held in self._held.get(subject, ()))

    def _void(self, step: Step) -> None:
        """A voided contact: every clock of it cancelled, and none started for it later."""
        for clock in self._clocks.get(step.subject, ()):
            changed, notice = cancel(clock, now=self.now)
            self._changed(clock, changed, [notice] if notice else [])
        self._hold(step)

    def _correct(self, step: Step, partition: int) -> None:
        """A correction: each clock of the contact restated from the corrected facts, and the
        clocks its corrected opening starts that it did not have started."""
        opening = _opening_of(step)
        if opening is None or self._voided(step.subject):
            return
        for clock in self._clocks.get(step.subject, ()):
            commitment = self.policy.by_id.get(clock.commitment)
            if commitment is not None:
                changed, notices = revise(
                    clock, self._revision(commitment, clock, opening), now=self.now
                )
                self._changed(clock, changed, notices)
        for commitment in self.policy.listening.get(opening.type, ()):
            if role_of(commitment, opening.type) is Role.start:
                self._start(commitment, opening, partition)

    def _revision(self, commitment: Commitment, clock: SlaClock, opening: Step) -> Revision:
        """The clock's facts under the corrected opening: the opening's clocks start from the
        corrected receipt (an extended one keeps its agreed deadline); any other clock (a
        later stage's, a reopened enquiry's) keeps its start and only takes the new labels."""
        if opening.type in commitment.start_events and clock.sequence == opening.sequence:
            if clock.extended_at is not None:
                started, due = clock.started_at, clock.due_at
            else:
                started = opening.occurred_at
                due = due_at(commitment, started, self.calendar)
            applicable = applies(commitment, opening, self.calendar)
        else:
            started, due = clock.started_at, clock.due_at
            applicable = covers(commitment, opening)
        return Revision(
            channel=opening.channel,
            service_area=opening.service_area,
            started_at=started,
            due_at=due,
            at_risk_at=at_risk_at(commitment, started, due, self.calendar),
            applies=applicable,
        )

    def _changed(self, clock: SlaClock, changed: bool, notices: list[Notice]) -> None:
        if changed and clock.id not in self._started_ids:
            self.evaluation.changed[clock.id] = clock
        self.evaluation.notices.extend(notices)

    def _start(self, commitment: Commitment, step: Step, partition: int) -> None:
        if self._voided(step.subject):
            return
        clock = start_clock(commitment, step, partition=partition, calendar=self.calendar)
        if clock is None or clock.id in self._ids:
            return  # not covered, or started already (a repeat or a replayed start)
        self._clocks.setdefault(clock.subject, []).append(clock)
        self._ids.add(clock.id)
        self._started_ids.add(clock.id)
        self.evaluation.started.append(clock)
        kept = sorted(self._held.get(step.subject, ()), key=lambda s: s.occurred_at)
        for held in kept:
            role = role_of(commitment, held.type)
            # The contact's channel is the starting step's: a step kept before a correction of
            # the channel carries the one corrected.
            if role in (None, Role.start) or not covers(commitment, _relabelled(held, step)):
                continue
            if not reaches(clock, held, role):
                continue
            assert role is not None
            self._settle(clock, role, held, commitment)
            if clock.status is not Status.pending and clock.stopped_at is not None:
                break

    def _settle_running(self, commitment: Commitment, role: Role, step: Step) -> bool:
        took = False
        for clock in self._clocks.get(step.subject, ()):
            if clock.commitment == commitment.id and reaches(clock, step, role):
                took = self._settle(clock, role, step, commitment) or took
        return took

    def _settle(self, clock: SlaClock, role: Role, step: Step, commitment: Commitment) -> bool:
        changed, notice = settle(
            clock, role, step, commitment=commitment, calendar=self.calendar, now=self.now
        )
        if changed and clock.id not in self._started_ids:
            self.evaluation.changed[clock.id] = clock
        if notice is not None:
            self.evaluation.notices.append(notice)
        return changed

    def _hold(self, step: Step) -> None:
        if step.event_id in self._held_ids:
            return
        self._held_ids.add(step.event_id)
        self._held.setdefault(step.subject, []).append(step)
        self.evaluation.held.append(step)


def _relabelled(held: Step, start: Step) -> Step:
    if held.channel == start.channel:
        return held
    return replace(held, channel=start.channel)


def _opening_of(correction: Step) -> Step | None:
    """The contact's opening event as it would have been recorded with the corrected facts."""
    opening_type = _OPENING.get(correction.contact_type)
    if opening_type is None or correction.received_at is None:
        return None
    complaint = correction.contact_type is ContactType.complaint
    return Step(
        event_id=correction.event_id,
        type=opening_type,
        subject=correction.subject,
        occurred_at=correction.received_at,
        contact_type=correction.contact_type,
        channel=correction.channel,
        service_area=correction.service_area,
        stage=ComplaintStage.stage_1 if complaint else None,
        sequence=_STAGE_SEQUENCE[ComplaintStage.stage_1] if complaint else 0,
    )


def evaluate(
    steps: Sequence[tuple[Step, int]],
    *,
    policy: Policy,
    calendar: WorkingCalendar,
    now: datetime,
    clocks: Iterable[SlaClock] = (),
    held: Iterable[Step] = (),
) -> Evaluation:
    """Applies (step, partition) pairs in order to the contacts' clocks and kept steps."""
    ledger = Ledger(policy=policy, calendar=calendar, now=now, clocks=clocks, held=held)
    for step, partition in steps:
        ledger.apply(step, partition=partition)
    return ledger.evaluation
