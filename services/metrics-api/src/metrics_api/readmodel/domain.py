"""Pure counting rules: which local day a thing counts on, which bucket a wait falls in, and the
ledger of what a batch of events changes in the read models: each contact's step counted once,
every figure on the local day of the thing it counts, however late the event arrives.

The ledger works on plain values (the service decodes them from events) and on what the read
models held before the batch; the service writes back what the ledger changed.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from contact_common.calendar import WorkingCalendar

WAIT_OVERFLOW_SECOND = 600
"""The wait histogram's last bucket, in whole seconds: every longer wait is counted in it (its
exact maximum is kept apart, in `wait_seconds_max`). A storage layout, not a commitment."""

NO_SERVICE_AREA = ""
"""The service area a call, visit or clock with none counts under (key columns cannot be null)."""

OMBUDSMAN = "ombudsman"


VOIDED = "voided"
"""The counted step that marks a voided contact: nothing of it counts any more."""

WITHDRAWN = "withdrawn"
"""A clock's recorded outcome once its breach was withdrawn: counted nowhere until decided again."""


@dataclass(frozen=True, slots=True)
class CountingRules:
    """The settings counting depends on: the council's zone and two commitments' targets."""

    timezone: ZoneInfo
    phone_answer_seconds: float
    reception_attend_seconds: float


def local_day(at: datetime, timezone: ZoneInfo) -> date:
    """The council's local date of an instant (Europe/London: GMT in winter, BST in summer)."""
    return at.astimezone(timezone).date()


def wait_bucket(wait_seconds: float) -> int:
    """The histogram bucket of a wait: whole seconds waited, 600 for ten minutes or more."""
    return min(math.floor(wait_seconds), WAIT_OVERFLOW_SECOND)


def within(wait_seconds: float, target_seconds: float) -> bool:
    """True if a wait kept a seconds target (DESIGN.md: an abandon within it is a short abandon)."""
    return wait_seconds <= target_seconds


# -- the read models' rows: a key (named as the table's key columns) and its counters --------------


@dataclass(frozen=True, slots=True, kw_only=True)
class EnquiryDayKey:
    """Enquiries by the local date received: the cohort CX03 and CX04 are rates of."""

    received_on: date
    channel: str
    service_area: str


@dataclass(slots=True)
class EnquiryDayCounts:
    """Enquiries opened, resolved, and resolved at first point (never reopened)."""

    opened: int = 0
    resolved: int = 0
    first_point: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class CallDayKey:
    """Calls by the local date offered, and whether that was in office hours."""

    offered_on: date
    channel: str
    service_area: str
    in_office_hours: bool


@dataclass(slots=True)
class CallDayCounts:
    """Calls offered, answered (within the answer target or not), abandoned (short or not), and
    the sum and longest of the answered calls' waits."""

    offered: int = 0
    answered: int = 0
    answered_within_target: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    wait_seconds_sum: float = 0.0
    wait_seconds_max: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class CallWaitDayKey:
    """Answered calls by the local date offered and whole seconds waited (600: 10 min or more)."""

    offered_on: date
    channel: str
    wait_second: int


@dataclass(slots=True)
class CallWaitDayCounts:
    """Calls answered after that wait."""

    answered: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class VisitDayKey:
    """Visits to reception by the local date the visitor arrived."""

    arrived_on: date
    service_area: str


@dataclass(slots=True)
class VisitDayCounts:
    """Visitors arrived, seen (within the reception target or not), and their waits."""

    arrived: int = 0
    attended: int = 0
    attended_within_target: int = 0
    wait_seconds_sum: float = 0.0
    wait_seconds_max: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackDayKey:
    """Satisfaction scores by the local date they were given."""

    submitted_on: date
    channel: str
    service_area: str


@dataclass(slots=True)
class FeedbackDayCounts:
    """Scores given and their sum (1-5 each)."""

    responses: int = 0
    score_sum: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplaintDayKey:
    """Complaint steps at a stage, each by the local date of the step."""

    day: date
    channel: str
    service_area: str
    stage: str


@dataclass(slots=True)
class ComplaintDayCounts:
    """Complaints received, escalated in, extended, and decided (by outcome) at a stage."""

    received: int = 0
    escalated_in: int = 0
    extended: int = 0
    decided: int = 0
    upheld: int = 0
    partly_upheld: int = 0
    not_upheld: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SlaDayKey:
    """Clocks by the local date of their deadline."""

    due_on: date
    commitment: str
    channel: str
    service_area: str


@dataclass(slots=True)
class SlaDayCounts:
    """Clocks met and breached."""

    met: int = 0
    breached: int = 0


CounterKey = (
    EnquiryDayKey
    | CallDayKey
    | CallWaitDayKey
    | VisitDayKey
    | FeedbackDayKey
    | ComplaintDayKey
    | SlaDayKey
)
Counts = (
    EnquiryDayCounts
    | CallDayCounts
    | CallWaitDayCounts
    | VisitDayCounts
    | FeedbackDayCounts
    | ComplaintDayCounts
    | SlaDayCounts
)


def by_month(rows: Iterable[tuple[CounterKey, Counts]]) -> list[tuple[CounterKey, Counts]]:
    """Counter rows summed by calendar month, as the monthly roll-ups keep them: every key leads
    with its local date, and the month's key has that date's first day; a `_max` counter keeps
    the largest, every other counter is summed."""
    months: dict[CounterKey, Counts] = {}
    for key, counts in rows:
        day = fields(key)[0].name
        month = replace(key, **{day: getattr(key, day).replace(day=1)})
        total = months.setdefault(month, type(counts)())
        for column in fields(counts):
            held, more = getattr(total, column.name), getattr(counts, column.name)
            peak = column.name.endswith("_max")
            setattr(total, column.name, max(held, more) if peak else held + more)
    return list(months.items())


@dataclass(frozen=True, slots=True)
class ContactStep:
    """A step of a contact (its subject id), such as an enquiry's "resolved", counted once."""

    subject_id: UUID
    step: str


@dataclass(frozen=True, slots=True)
class ClockCount:
    """Where an SLA clock is counted: its outcome and its `sla_day` row; neither if it was
    counted before the record kept them."""

    outcome: str | None
    key: SlaDayKey | None


@dataclass(frozen=True, slots=True)
class Place:
    """Where a contact's counted step is counted: its counter row (an enquiry_day or a
    complaint_day key) and, for a decision, its outcome."""

    key: EnquiryDayKey | ComplaintDayKey
    outcome: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Correction:
    """A contact's corrected facts: what its counts are moved to."""

    subject_id: UUID
    received_at: datetime
    channel: str
    service_area: str


# -- what the service decodes from events ----------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Enquiry:
    """What every enquiry event repeats."""

    enquiry_id: UUID
    channel: str
    service_area: str
    received_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """What every call event repeats."""

    call_id: UUID
    channel: str
    service_area: str | None
    offered_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Visit:
    """What every visit event repeats."""

    visit_id: UUID
    service_area: str | None
    arrived_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Feedback:
    """A satisfaction score (1-5) given for a contact."""

    feedback_id: UUID
    channel: str
    service_area: str
    submitted_at: datetime
    score: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Complaint:
    """What every complaint event repeats that counting needs."""

    complaint_id: UUID
    channel: str
    service_area: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Clock:
    """An SLA clock: a commitment's window for one contact."""

    clock_id: UUID
    commitment: str
    contact_type: str
    contact_id: UUID
    channel: str
    service_area: str | None
    started_at: datetime
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Breach:
    """A breached clock with no stop yet: someone still has to chase it."""

    clock: Clock
    breached_at: datetime


def _area(service_area: str | None) -> str:
    return service_area or NO_SERVICE_AREA


# -- the ledger ------------------------------------------------------------------------------------


@dataclass
class Ledger:
    """A batch's view of the read models: made from what they held before its first event,
    changed by each event in turn (so an event sees what the ones before it in the batch did),
    and written back after its last: the steps and clocks it counted, the breaches it opened
    and closed, and its changes to each counter row."""

    rules: CountingRules
    calendar: WorkingCalendar
    steps: dict[ContactStep, datetime] = field(default_factory=dict)
    clocks: dict[UUID, ClockCount] = field(default_factory=dict)
    breaches: dict[UUID, Breach] = field(default_factory=dict)
    places: dict[ContactStep, Place] = field(default_factory=dict)
    new_places: dict[ContactStep, Place] = field(default_factory=dict)
    dropped_places: set[ContactStep] = field(default_factory=set)
    new_steps: dict[ContactStep, datetime] = field(default_factory=dict)
    finished: dict[UUID, datetime] = field(default_factory=dict)
    finished_contacts: set[UUID] = field(default_factory=set)
    counted_clocks: dict[UUID, ClockCount] = field(default_factory=dict)
    closed_clocks: set[UUID] = field(default_factory=set)
    opened_breaches: set[UUID] = field(default_factory=set)
    breaches_changed: bool = False
    enquiry_days: defaultdict[EnquiryDayKey, EnquiryDayCounts] = field(
        default_factory=lambda: defaultdict(EnquiryDayCounts)
    )
    call_days: defaultdict[CallDayKey, CallDayCounts] = field(
        default_factory=lambda: defaultdict(CallDayCounts)
    )
    call_wait_days: defaultdict[CallWaitDayKey, CallWaitDayCounts] = field(
        default_factory=lambda: defaultdict(CallWaitDayCounts)
    )
    visit_days: defaultdict[VisitDayKey, VisitDayCounts] = field(
        default_factory=lambda: defaultdict(VisitDayCounts)
    )
    feedback_days: defaultdict[FeedbackDayKey, FeedbackDayCounts] = field(
        default_factory=lambda: defaultdict(FeedbackDayCounts)
    )
    complaint_days: defaultdict[ComplaintDayKey, ComplaintDayCounts] = field(
        default_factory=lambda: defaultdict(ComplaintDayCounts)
    )
    sla_days: defaultdict[SlaDayKey, SlaDayCounts] = field(
        default_factory=lambda: defaultdict(SlaDayCounts)
    )

    # -- what the batch changed --------------------------------------------------------------------

    def counts(self) -> list[tuple[CounterKey, Counts]]:
        """Every counter row the batch changed, with its changes."""
        return [
            *self.enquiry_days.items(),
            *self.call_days.items(),
            *self.call_wait_days.items(),
            *self.visit_days.items(),
            *self.feedback_days.items(),
            *self.complaint_days.items(),
            *self.sla_days.items(),
        ]

    def breaches_to_open(self) -> list[Breach]:
        """The breaches the batch opened that are still open at its end."""
        return [self.breaches[c] for c in self.opened_breaches if c in self.breaches]

    # -- enquiries ---------------------------------------------------------------------------------

    def enquiry_seen(self, enquiry: Enquiry, *, at: datetime) -> None:
        """Any event of an enquiry: whichever arrives first counts it, on the day received."""
        if self._claim(enquiry.enquiry_id, "opened", at):
            key = self._enquiry_day(enquiry)
            self.enquiry_days[key].opened += 1
            self._place(enquiry.enquiry_id, "opened", Place(key))

    def enquiry_resolved(self, enquiry: Enquiry, *, at: datetime, first_point: bool) -> None:
        """An enquiry resolved: once, against the day it was received (CX04 is "enquiries
        resolved at first point / enquiries", one cohort), and at first point only if it was
        never reopened, whichever of the two events came first."""
        self.enquiry_seen(enquiry, at=at)
        key = self._enquiry_day(enquiry)
        if self._claim(enquiry.enquiry_id, "resolved", at):
            self.enquiry_days[key].resolved += 1
            self._place(enquiry.enquiry_id, "resolved", Place(key))
        if (
            first_point
            and not self._counted(enquiry.enquiry_id, "reopened")
            and self._claim(enquiry.enquiry_id, "first_point", at)
        ):
            self.enquiry_days[key].first_point += 1
            self._place(enquiry.enquiry_id, "first_point", Place(key))
        self._finish(enquiry.enquiry_id, at)

    def enquiry_reopened(self, enquiry: Enquiry, *, at: datetime) -> None:
        """An enquiry reopened: one counted as resolved at first point no longer is."""
        self.enquiry_seen(enquiry, at=at)
        if self._claim(enquiry.enquiry_id, "reopened", at) and self._counted(
            enquiry.enquiry_id, "first_point"
        ):
            placed = self.places.get(ContactStep(enquiry.enquiry_id, "first_point"))
            key = placed.key if placed is not None else self._enquiry_day(enquiry)
            self.enquiry_days[key].first_point -= 1  # type: ignore[index]

    # -- calls and visits --------------------------------------------------------------------------

    def call_offered(self, call: Call, *, at: datetime) -> None:
        """A call offered: once, on the day offered, in office hours or not."""
        if self._claim(call.call_id, "offered", at):
            self.call_days[self._call_day(call)].offered += 1

    def call_answered(self, call: Call, *, at: datetime, wait_seconds: float) -> None:
        """A call answered (one outcome, whichever system reports it): within the answer target
        or not, its wait in the day's sum, longest and histogram."""
        if not self._call_outcome(call, at):
            return
        counts = self.call_days[self._call_day(call)]
        counts.answered += 1
        counts.answered_within_target += int(within(wait_seconds, self.rules.phone_answer_seconds))
        counts.wait_seconds_sum += wait_seconds
        counts.wait_seconds_max = max(counts.wait_seconds_max, wait_seconds)
        offered_on = self._day(call.offered_at)
        bucket = CallWaitDayKey(
            offered_on=offered_on, channel=call.channel, wait_second=wait_bucket(wait_seconds)
        )
        self.call_wait_days[bucket].answered += 1

    def call_abandoned(self, call: Call, *, at: datetime, wait_seconds: float) -> None:
        """A call abandoned (one outcome): short if the caller hung up within the answer
        target (DESIGN.md: not a call the service level is of)."""
        if not self._call_outcome(call, at):
            return
        counts = self.call_days[self._call_day(call)]
        counts.abandoned += 1
        counts.short_abandoned += int(within(wait_seconds, self.rules.phone_answer_seconds))

    def visit_arrived(self, visit: Visit, *, at: datetime) -> None:
        """A visitor arrived at reception: once, on the day they arrived."""
        if self._claim(visit.visit_id, "arrived", at):
            self.visit_days[self._visit_day(visit)].arrived += 1

    def visit_attended(self, visit: Visit, *, at: datetime, wait_seconds: float) -> None:
        """A visitor seen (once): within the reception target or not, and their wait."""
        self.visit_arrived(visit, at=at)
        if not self._claim(visit.visit_id, "attended", at):
            return
        counts = self.visit_days[self._visit_day(visit)]
        counts.attended += 1
        target = self.rules.reception_attend_seconds
        counts.attended_within_target += int(within(wait_seconds, target))
        counts.wait_seconds_sum += wait_seconds
        counts.wait_seconds_max = max(counts.wait_seconds_max, wait_seconds)
        self._finish(visit.visit_id, at)

    def feedback_submitted(self, feedback: Feedback, *, at: datetime) -> None:
        """A satisfaction score: once, on the day it was given."""
        if self._claim(feedback.feedback_id, "submitted", at):
            day = self._day(feedback.submitted_at)
            key = FeedbackDayKey(
                submitted_on=day, channel=feedback.channel, service_area=feedback.service_area
            )
            counts = self.feedback_days[key]
            counts.responses += 1
            counts.score_sum += feedback.score

    # -- complaints: each step on its own day, at its stage ----------------------------------------

    def complaint_received(self, complaint: Complaint, *, at: datetime, stage: str) -> None:
        """A complaint received: once, on the day received."""
        if (counts := self._complaint_step(complaint, at, stage, "received")) is not None:
            counts.received += 1

    def complaint_escalated(self, complaint: Complaint, *, at: datetime, to_stage: str) -> None:
        """A complaint escalated: once into each stage, on the day it was asked for."""
        step = f"escalated:{to_stage}"
        if (counts := self._complaint_step(complaint, at, to_stage, step)) is not None:
            counts.escalated_in += 1

    def complaint_extended(self, complaint: Complaint, *, at: datetime, stage: str) -> None:
        """A complaint's response deadline extended: once a stage."""
        step = f"extended:{stage}"
        if (counts := self._complaint_step(complaint, at, stage, step)) is not None:
            counts.extended += 1

    def complaint_decided(
        self, complaint: Complaint, *, at: datetime, stage: str, outcome: str
    ) -> None:
        """A decision at a stage, once, on the day it was sent (CX06 is "fully upheld /
        decided" for decisions made in the period)."""
        counts = self._complaint_step(complaint, at, stage, f"decided:{stage}", outcome=outcome)
        if counts is None:
            return
        counts.decided += 1
        if outcome == "upheld":
            counts.upheld += 1
        elif outcome == "partly_upheld":
            counts.partly_upheld += 1
        elif outcome == "not_upheld":
            counts.not_upheld += 1
        else:
            raise ValueError(f"not a complaint outcome: {outcome}")

    def complaint_closed(
        self, complaint: Complaint, *, at: datetime, ombudsman_decision: str | None
    ) -> None:
        """A complaint closed: the ombudsman's decision, if it has one, counts at that stage."""
        if ombudsman_decision is not None:
            self.complaint_decided(complaint, at=at, stage=OMBUDSMAN, outcome=ombudsman_decision)
        self._finish(complaint.complaint_id, at)

    # -- SLA clocks --------------------------------------------------------------------------------
    # A clock counts once, met or breached, on the local date of its deadline (compliance is
    # about deadlines that fell in a period). Its count says where, so a withdrawn breach (an
    # sla.met correcting it) moves from breached to met, once, and one withdrawn outright (an
    # sla.withdrawn) counts nowhere until the clock is decided again.

    def clock_met(self, clock: Clock, *, corrects_breach: bool) -> None:
        """A clock met; if it corrects a breach counted before, the breach moves to met (on the
        possibly extended deadline's date). No breach of it is left to chase."""
        counted = self._decided(clock.clock_id)
        if counted is None:
            self._count_clock(clock, "met")
        elif corrects_breach and counted.outcome != "met":
            self._withdraw_breach(clock, counted)
        self._close_breach(clock.clock_id)

    def clock_breached(
        self, clock: Clock, *, breached_at: datetime, stopped_at: datetime | None
    ) -> None:
        """A clock breached: counted once; to chase until it stops, unless its contact was
        finished with after the clock started (that event can arrive on contact.events before
        the breach on sla.events)."""
        counted = self._decided(clock.clock_id)
        if counted is None:
            self._count_clock(clock, "breached")
        if stopped_at is not None:
            self._close_breach(clock.clock_id)
            return
        finished_at = self._counted(clock.contact_id, "finished")
        if counted is None and (finished_at is None or finished_at < clock.started_at):
            stored = replace(clock, service_area=_area(clock.service_area))
            self._open_breach(Breach(stored, breached_at))

    def clock_stopped(self, clock: Clock) -> None:
        """A breached clock's late stop: breached (once), and no longer to chase."""
        if self._decided(clock.clock_id) is None:
            self._count_clock(clock, "breached")
        self._close_breach(clock.clock_id)

    def clock_withdrawn(self, clock: Clock) -> None:
        """A decision withdrawn (a breach: a short abandon, or an extension agreed in time,
        recorded after the timer flagged it; any decision: its contact corrected or voided):
        no longer counted, nor to chase, until the clock is met or breached again."""
        counted = self.clocks.get(clock.clock_id)
        # A clock counted with an outcome always has its key (ClockCount keeps both or neither).
        if counted is not None and counted.outcome == "breached" and counted.key is not None:
            self.sla_days[counted.key].breached -= 1
            self._record_clock(clock.clock_id, ClockCount(WITHDRAWN, counted.key))
        elif counted is not None and counted.key is not None and counted.outcome == "met":
            # A met clock withdrawn by a correction (decided again next) or a void (cancelled).
            self.sla_days[counted.key].met -= 1
            self._record_clock(clock.clock_id, ClockCount(WITHDRAWN, counted.key))
        self._close_breach(clock.clock_id)

    def _decided(self, clock_id: UUID) -> ClockCount | None:
        """Where the clock is counted, if it is (a withdrawn breach is counted nowhere)."""
        counted = self.clocks.get(clock_id)
        return None if counted is not None and counted.outcome == WITHDRAWN else counted

    # -- corrections and voids: a contact's counted steps moved or removed, exactly ------------

    def contact_corrected(self, correction: Correction) -> None:
        """A contact's received_at, channel or service area corrected: each counted step moves
        from the row it was counted in to the row of the corrected facts (a receipt to the
        corrected day; later steps keep their own day)."""
        for step, place in self._places_of(correction.subject_id):
            moved = self._corrected_key(step.step, place.key, correction)
            if moved != place.key:
                self._count_place(step, place, -1)
                self._count_place(step, Place(moved, place.outcome), +1)
                self._place(step.subject_id, step.step, Place(moved, place.outcome))

    def contact_voided(self, subject_id: UUID, *, at: datetime) -> None:
        """A contact voided: every counted step of it removed, and nothing of it counted again
        (its clocks' decisions are withdrawn by sla-monitor's sla.withdrawn)."""
        if not self._claim(subject_id, VOIDED, at):
            return
        for step, place in self._places_of(subject_id):
            self._count_place(step, place, -1)
            del self.places[step]
            self.new_places.pop(step, None)
            self.dropped_places.add(step)
        self._finish(subject_id, at)

    def _places_of(self, subject_id: UUID) -> list[tuple[ContactStep, Place]]:
        return [(s, p) for s, p in self.places.items() if s.subject_id == subject_id]

    def _place(self, subject_id: UUID, step: str, place: Place) -> None:
        key = ContactStep(subject_id, step)
        self.places[key] = self.new_places[key] = place
        self.dropped_places.discard(key)

    def _corrected_key(
        self, step: str, key: EnquiryDayKey | ComplaintDayKey, correction: Correction
    ) -> EnquiryDayKey | ComplaintDayKey:
        if isinstance(key, EnquiryDayKey):
            return EnquiryDayKey(
                received_on=self._day(correction.received_at),
                channel=correction.channel,
                service_area=correction.service_area,
            )
        day = self._day(correction.received_at) if step == "received" else key.day
        return replace(
            key, day=day, channel=correction.channel, service_area=correction.service_area
        )

    def _count_place(self, step: ContactStep, place: Place, sign: int) -> None:
        """Adds (sign +1) or takes away (-1) what a counted step counts in its row."""
        key = place.key
        if isinstance(key, EnquiryDayKey):
            counts: EnquiryDayCounts | ComplaintDayCounts = self.enquiry_days[key]
            if step.step == "first_point" and self._counted(step.subject_id, "reopened"):
                return  # a reopening took it away already
            columns = [step.step]
        else:
            counts = self.complaint_days[key]
            columns = _complaint_columns(step.step, place.outcome)
        for column in columns:
            setattr(counts, column, getattr(counts, column) + sign)

    # -- the rules' parts --------------------------------------------------------------------------

    def _day(self, at: datetime) -> date:
        return local_day(at, self.rules.timezone)

    def _enquiry_day(self, enquiry: Enquiry) -> EnquiryDayKey:
        return EnquiryDayKey(
            received_on=self._day(enquiry.received_at),
            channel=enquiry.channel,
            service_area=enquiry.service_area,
        )

    def _call_day(self, call: Call) -> CallDayKey:
        return CallDayKey(
            offered_on=self._day(call.offered_at),
            channel=call.channel,
            service_area=_area(call.service_area),
            in_office_hours=self.calendar.in_office_hours(call.offered_at),
        )

    def _visit_day(self, visit: Visit) -> VisitDayKey:
        return VisitDayKey(
            arrived_on=self._day(visit.arrived_at), service_area=_area(visit.service_area)
        )

    def _sla_day(self, clock: Clock) -> SlaDayKey:
        return SlaDayKey(
            due_on=self._day(clock.due_at),
            commitment=clock.commitment,
            channel=clock.channel,
            service_area=_area(clock.service_area),
        )

    def _claim(self, subject_id: UUID, step: str, at: datetime) -> bool:
        """Counts a step of a contact; False if it was counted before."""
        key = ContactStep(subject_id, step)
        if key in self.steps or ContactStep(subject_id, VOIDED) in self.steps:
            return False  # counted before, or the contact was voided: it counts nowhere
        self.steps[key] = self.new_steps[key] = at
        return True

    def _counted(self, subject_id: UUID, step: str) -> datetime | None:
        """When a step of a contact happened, if it has been counted."""
        return self.steps.get(ContactStep(subject_id, step))

    def _call_outcome(self, call: Call, at: datetime) -> bool:
        """Counts a call offered (an outcome implies it) and claims its one outcome."""
        self.call_offered(call, at=at)
        if not self._claim(call.call_id, "outcome", at):
            return False
        self._finish(call.call_id, at)
        return True

    def _complaint_step(
        self, complaint: Complaint, at: datetime, stage: str, step: str, outcome: str | None = None
    ) -> ComplaintDayCounts | None:
        """The row a complaint's step at a stage counts in, unless it was counted before."""
        if not self._claim(complaint.complaint_id, step, at):
            return None
        key = ComplaintDayKey(
            day=self._day(at),
            channel=complaint.channel,
            service_area=complaint.service_area,
            stage=stage,
        )
        self._place(complaint.complaint_id, step, Place(key, outcome))
        return self.complaint_days[key]

    def _finish(self, contact_id: UUID, at: datetime) -> None:
        """A contact is done with (the latest time, after a reopen): nothing of it is left to
        chase."""
        finished_at = self._counted(contact_id, "finished")
        if finished_at is None or at > finished_at:
            self.steps[ContactStep(contact_id, "finished")] = at
            self.finished[contact_id] = at
        self.finished_contacts.add(contact_id)
        for clock_id in [c for c, b in self.breaches.items() if b.clock.contact_id == contact_id]:
            del self.breaches[clock_id]
            self.breaches_changed = True

    def _count_clock(self, clock: Clock, outcome: str) -> None:
        key = self._sla_day(clock)
        if outcome == "met":
            self.sla_days[key].met += 1
        else:
            self.sla_days[key].breached += 1
        self._record_clock(clock.clock_id, ClockCount(outcome, key))

    def _withdraw_breach(self, clock: Clock, counted: ClockCount) -> None:
        """Moves a clock counted breached to met, on its (possibly extended) deadline's date."""
        breached = counted.key if counted.outcome == "breached" else None
        if counted.outcome is None and clock.clock_id in self.breaches:
            # Counted before the record kept its outcome: only a breach still open says where.
            breached = self._sla_day(self.breaches[clock.clock_id].clock)
        if breached is None:
            return
        key = self._sla_day(clock)
        self.sla_days[breached].breached -= 1
        self.sla_days[key].met += 1
        self._record_clock(clock.clock_id, ClockCount("met", key))

    def _record_clock(self, clock_id: UUID, count: ClockCount) -> None:
        self.clocks[clock_id] = self.counted_clocks[clock_id] = count

    def _open_breach(self, breach: Breach) -> None:
        """A breach to chase (once per clock)."""
        clock_id = breach.clock.clock_id
        if clock_id not in self.breaches:
            self.breaches[clock_id] = breach
            self.opened_breaches.add(clock_id)
        self.breaches_changed = True

    def _close_breach(self, clock_id: UUID) -> None:
        """A clock's breach is no longer to chase."""
        self.closed_clocks.add(clock_id)
        if self.breaches.pop(clock_id, None) is not None:
            self.breaches_changed = True


def _complaint_columns(step: str, outcome: str | None) -> list[str]:
    """The complaint_day counters a complaint's counted step adds one to."""
    kind = step.split(":", 1)[0]
    if kind == "received":
        return ["received"]
    if kind == "escalated":
        return ["escalated_in"]
    if kind == "extended":
        return ["extended"]
    return ["decided", *([outcome] if outcome else [])]
