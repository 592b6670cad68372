"""The clock rules of DESIGN.md, "The commitments", on plain values."""

from __future__ import annotations

import dataclasses
import itertools
import random
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contact_common.calendar import WorkingCalendar
from contact_common.commitments import Policy, load_policy
from contact_common.events import Channel, CloudEvent, decode_event, encode_event
from sla_monitor.clocks.domain import (
    Notice,
    SlaClock,
    Status,
    Step,
    clock_id,
    evaluate,
    notice_id,
    step_of,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from upstream_events import Call, Complaint, Enquiry, Visit, london  # noqa: E402

CALENDAR = WorkingCalendar()
DEFAULT = load_policy("default")
CHC = load_policy("complaint-handling-code-2024")
WEDNESDAY = date(2026, 6, 3)
T0 = london(WEDNESDAY, time(10))
LATER = T0 + timedelta(days=365)
S = timedelta(seconds=1)


class Store:
    """Clocks and held steps kept between batches, as the database keeps them."""

    def __init__(self, policy: Policy = DEFAULT) -> None:
        self.policy = policy
        self.clocks: dict[UUID, SlaClock] = {}
        self.held: dict[UUID, Step] = {}
        self.notices: list[tuple[str, UUID, datetime | None]] = []
        self.published: list[Notice] = []

    def feed(self, *events: CloudEvent, now: datetime = LATER) -> None:
        steps = [(s, 0) for s in map(step_of, events) if s is not None]
        evaluation = evaluate(
            steps,
            policy=self.policy,
            calendar=CALENDAR,
            now=now,
            clocks=[dataclasses.replace(c) for c in self.clocks.values()],
            held=list(self.held.values()),
        )
        for item in [*evaluation.started, *evaluation.changed.values()]:
            self.clocks[item.id] = item
        for step in evaluation.held:
            self.held[step.event_id] = step
        self.notices += [(n.kind, n.clock.id, n.stopped_at) for n in evaluation.notices]
        self.published += evaluation.notices

    def timer_flags(self, commitment: str, subject: UUID, sequence: int = 0) -> SlaClock:
        """What the timer does when the deadline passes with no stop (repository.flag_breaches)."""
        clock = self.clock(commitment, subject, sequence)
        assert clock.status is Status.pending
        clock.status, clock.breached_at, clock.flagged_at = Status.breached, clock.due_at, LATER
        return clock

    def flag_overdue(self) -> None:
        """What the timers do at LATER to every running clock past its deadline."""
        for clock in self.clocks.values():
            if clock.status is Status.pending and clock.due_at < LATER:
                clock.status, clock.breached_at, clock.flagged_at = (
                    Status.breached,
                    clock.due_at,
                    LATER,
                )

    def clock(self, commitment: str, subject: UUID, sequence: int = 0) -> SlaClock:
        return self.clocks[clock_id(commitment, subject, sequence)]

    def of(self, subject: UUID) -> dict[tuple[str, int], SlaClock]:
        return {(c.commitment, c.sequence): c for c in self.clocks.values() if c.subject == subject}

    def comparable(self, subject: UUID) -> dict[tuple[str, int], tuple[object, ...]]:
        return {
            key: (c.started_at, c.due_at, c.status, c.stopped_at, c.breached_at, c.extended_at)
            for key, c in self.of(subject).items()
        }


# -- the deadlines --


def test_design_examples_email_before_a_bank_holiday_monday() -> None:
    # 31 August 2026 is the summer bank holiday (England).
    friday = date(2026, 8, 28)
    at_four, at_half_five = Enquiry(london(friday, time(16))), Enquiry(london(friday, time(17, 30)))
    store = Store()
    store.feed(at_four.opened(), at_half_five.opened())
    assert store.clock("email-acknowledge", at_four.id).due_at == london(date(2026, 9, 1), time(17))
    assert store.clock("email-acknowledge", at_half_five.id).due_at == london(
        date(2026, 9, 2), time(17)
    )
    # 3 working days from Friday: Tuesday, Wednesday, Thursday.
    assert store.clock("email-respond", at_four.id).due_at == london(date(2026, 9, 3), time(17))


def test_at_risk_falls_in_office_hours_not_on_the_bank_holiday() -> None:
    friday_four = london(date(2026, 8, 28), time(16))
    enquiry = Enquiry(friday_four)
    store = Store()
    store.feed(enquiry.opened())
    # 1 office hour on Friday + 8 on Tuesday = 9; 75% of it is 6h45m: Tuesday 14:45.
    assert store.clock("email-acknowledge", enquiry.id).at_risk_at == london(
        date(2026, 9, 1), time(14, 45)
    )


def test_elapsed_targets_only_in_office_hours_and_never_for_standby() -> None:
    in_hours, evening = Call(T0), Call(london(WEDNESDAY, time(18)))
    saturday = Call(london(date(2026, 6, 6), time(11)))
    standby = Call(T0, channel=Channel.standby)
    early_visit = Visit(london(WEDNESDAY, time(8, 30)))
    store = Store()
    store.feed(
        *(c.offered() for c in (in_hours, evening, saturday, standby)), early_visit.arrived()
    )
    assert set(store.of(in_hours.id)) == {("phone-answer", 0), ("phone-wait-max", 0)}
    assert store.clock("phone-answer", in_hours.id).due_at == T0 + 15 * S
    assert store.clock("phone-wait-max", in_hours.id).due_at == T0 + 600 * S
    assert store.clock("phone-answer", in_hours.id).at_risk_at == T0 + timedelta(seconds=11.25)
    for other in (evening, saturday, standby):
        assert store.of(other.id) == {}
    assert store.of(early_visit.id) == {}


# -- stops, late stops, abandons --


def test_a_stop_by_the_deadline_meets_it_and_a_later_one_is_a_breach_at_the_deadline() -> None:
    quick, slow = Call(T0), Call(T0)
    store = Store()
    store.feed(quick.offered(), quick.answered(15 * S), slow.offered(), slow.answered(40 * S))
    met = store.clock("phone-answer", quick.id)
    assert (met.status, met.stopped_at) == (Status.met, T0 + 15 * S)
    late = store.clock("phone-answer", slow.id)
    assert (late.status, late.breached_at, late.stopped_at) == (
        Status.breached,
        T0 + 15 * S,
        T0 + 40 * S,
    )
    assert late.flagged_at == LATER
    assert store.clock("phone-wait-max", slow.id).status is Status.met
    assert ("sla.met", met.id, T0 + 15 * S) in store.notices
    assert ("sla.breached", late.id, T0 + 40 * S) in store.notices


def test_short_abandons_are_excluded_and_late_abandons_breach() -> None:
    short, long = Call(T0), Call(T0)
    store = Store()
    store.feed(short.offered(), short.abandoned(10 * S), long.offered(), long.abandoned(60 * S))
    assert store.clock("phone-answer", short.id).status is Status.excluded
    assert store.clock("phone-wait-max", short.id).status is Status.excluded
    assert store.clock("phone-answer", long.id).status is Status.breached
    assert store.clock("phone-wait-max", long.id).status is Status.excluded
    assert [kind for kind, clock, _ in store.notices] == ["sla.breached"]


def test_a_timer_breach_stopped_after_the_deadline_stays_a_breach_and_closes_once() -> None:
    enquiry = Enquiry(T0)
    store = Store()
    store.feed(enquiry.opened())
    store.timer_flags("email-acknowledge", enquiry.id)
    due = store.clock("email-acknowledge", enquiry.id).due_at  # Thursday 17:00
    store.feed(enquiry.responded(T0 + timedelta(days=3)))  # Saturday: after the deadline
    ack = store.clock("email-acknowledge", enquiry.id)
    assert (ack.status, ack.breached_at, ack.stopped_at) == (
        Status.breached,
        due,
        T0 + timedelta(days=3),
    )
    assert ack.breach_withdrawn_at is None
    # Breached once: the late stop closes the open breach (sla.stopped), no second sla.breached.
    about_ack = [n for n in store.notices if n[1] == ack.id]
    assert about_ack == [("sla.stopped", ack.id, T0 + timedelta(days=3))]
    # An earlier stop recorded later, still after the deadline, only records when it stopped.
    store.feed(enquiry.acknowledged(T0 + timedelta(days=2)), enquiry.resolved(T0 + timedelta(4)))
    ack = store.clock("email-acknowledge", enquiry.id)
    assert (ack.status, ack.stopped_at) == (Status.breached, T0 + timedelta(days=2))
    assert [n for n in store.notices if n[1] == ack.id] == about_ack


def test_a_stop_made_in_time_recorded_after_the_timer_breach_corrects_it_to_met() -> None:
    # A bulk load of past contacts: the enquiry arrives with its deadline already past, the
    # timer flags it, and the acknowledgement made the same morning arrives a moment later.
    enquiry = Enquiry(T0)
    store = Store()
    store.feed(enquiry.opened())
    flagged = store.timer_flags("email-acknowledge", enquiry.id)
    now = LATER + S
    store.feed(enquiry.acknowledged(T0 + timedelta(hours=2)), now=now)
    ack = store.clock("email-acknowledge", enquiry.id)
    assert (ack.status, ack.stopped_at, ack.breached_at) == (
        Status.met,
        T0 + timedelta(hours=2),
        None,
    )
    assert (ack.breach_withdrawn_at, ack.flagged_at) == (now, flagged.flagged_at)
    [notice] = store.published
    assert (notice.kind, notice.corrects_breach, notice.stopped_at) == (
        "sla.met",
        True,
        T0 + timedelta(hours=2),
    )
    assert notice.clock.status is Status.met
    # Repeats and later stops change nothing and publish nothing: met once, never re-flagged.
    store.feed(enquiry.acknowledged(T0 + timedelta(hours=2)), enquiry.responded(T0 + 9 * S))
    assert store.clock("email-acknowledge", enquiry.id).status is Status.met
    assert len(store.published) == 2  # the response meets the response clock, nothing more
    assert [n.kind for n in store.published] == ["sla.met", "sla.met"]
    assert not store.published[1].corrects_breach


def test_live_with_the_timer_and_replay_without_it_reach_the_same_clocks() -> None:
    late_ack, late_reply, on_time = Enquiry(T0), Enquiry(T0), Enquiry(T0)
    complaint = Complaint(T0)
    records = [
        late_ack.acknowledged(T0 + timedelta(hours=3)),
        late_ack.responded(T0 + timedelta(days=1)),
        late_reply.responded(T0 + timedelta(days=6)),
        on_time.acknowledged(T0 + S),
        # Extended in time (recorded late) and answered within the new deadline.
        complaint.acknowledged(T0 + timedelta(hours=1)),
        complaint.extended(T0 + timedelta(days=8), working_days=10),
        complaint.responded(london(date(2026, 6, 30), time(12))),
    ]
    starts = [late_ack.opened(), late_reply.opened(), on_time.opened(), complaint.received()]
    replay = Store()
    replay.feed(*starts, *records)
    live = Store()
    live.feed(*starts)
    for commitment, subject in [
        ("email-acknowledge", late_ack.id),
        ("email-respond", late_ack.id),
        ("email-acknowledge", late_reply.id),
        ("email-respond", late_reply.id),
    ]:
        live.timer_flags(commitment, subject)
    live.timer_flags("complaint-respond", complaint.id, 1)
    live.feed(*records)
    for item in (late_ack, late_reply, on_time, complaint):
        assert live.comparable(item.id) == replay.comparable(item.id)
    respond = live.clock("complaint-respond", complaint.id, 1)
    assert (respond.status, respond.due_at) == (Status.met, london(date(2026, 7, 1), time(17)))
    corrected = sorted((n.clock.commitment, n.kind) for n in live.published if n.corrects_breach)
    assert corrected == [("email-acknowledge", "sla.met"), ("email-respond", "sla.met")]
    # The extension, agreed in time, withdrew the timer's breach; the response then met the
    # extended deadline, plainly (there was no breach left to correct).
    about_respond = [(n.kind, n.withdrawn) for n in live.published if n.clock.id == respond.id]
    assert about_respond == [("sla.withdrawn", "extended"), ("sla.met", None)]
    assert sorted(n.clock.commitment for n in live.published if n.kind == "sla.stopped") == [
        "email-acknowledge",
        "email-respond",
    ]


def test_each_default_commitment_is_met_by_its_stop() -> None:
    call, visit = Call(T0), Visit(T0)
    email, letter = Enquiry(T0), Enquiry(T0, channel=Channel.letter)
    voicemail = Enquiry(T0, channel=Channel.voicemail)
    complaint = Complaint(T0)
    hour = timedelta(hours=1)
    store = Store()
    store.feed(
        call.offered(),
        call.answered(5 * S),
        visit.arrived(),
        visit.attended(timedelta(minutes=4)),
        email.opened(),
        email.acknowledged(T0 + hour),
        email.responded(T0 + 2 * hour),
        letter.opened(),
        letter.resolved(T0 + timedelta(days=7)),
        voicemail.opened(),
        voicemail.responded(T0 + hour),
        complaint.received(),
        complaint.acknowledged(T0 + hour),
        complaint.responded(T0 + timedelta(days=5)),
        complaint.escalated(T0 + timedelta(days=6)),
        complaint.acknowledged(T0 + timedelta(days=7), stage="stage_2"),
        complaint.responded(T0 + timedelta(days=20), stage="stage_2"),
    )
    statuses = {(c.commitment, c.sequence): c.status for c in store.clocks.values()}
    assert statuses == {
        ("phone-answer", 0): Status.met,
        ("phone-wait-max", 0): Status.met,
        ("reception-attend", 0): Status.met,
        ("email-acknowledge", 0): Status.met,
        ("email-respond", 0): Status.met,
        ("letter-respond", 0): Status.met,
        ("voicemail-respond", 0): Status.met,
        ("complaint-acknowledge", 1): Status.met,
        ("complaint-acknowledge", 2): Status.met,
        ("complaint-respond", 1): Status.met,
        ("complaint-respond-stage2", 2): Status.met,
    }
    assert len([n for n in store.notices if n[0] == "sla.met"]) == 11


def test_a_response_also_acknowledges_an_email() -> None:
    enquiry = Enquiry(T0)
    store = Store()
    store.feed(enquiry.opened(), enquiry.responded(T0 + timedelta(hours=2)))
    assert store.clock("email-acknowledge", enquiry.id).status is Status.met
    assert store.clock("email-respond", enquiry.id).status is Status.met


# -- order, repeats, strangers --


def _first_cycle(enquiry: Enquiry) -> list[CloudEvent]:
    return [
        enquiry.opened(),
        enquiry.acknowledged(T0 + timedelta(hours=32)),
        enquiry.responded(T0 + timedelta(days=6)),
        enquiry.resolved(T0 + timedelta(days=7)),
    ]


def _second_cycle(enquiry: Enquiry) -> list[CloudEvent]:
    return [enquiry.reopened(T0 + timedelta(days=8)), enquiry.responded(T0 + timedelta(days=9))]


def test_order_and_repeats_change_nothing() -> None:
    base = Enquiry(T0)
    first, second = _first_cycle(base), _second_cycle(base)
    in_order = Store()
    for event in first + second:
        in_order.feed(event)
    expected = in_order.comparable(base.id)
    assert expected[("email-acknowledge", 0)][2] is Status.breached  # Thursday 18:00 is too late
    assert expected[("email-respond", 0)][2] is Status.breached
    assert expected[("email-respond", 1)][2] is Status.met  # the reopened enquiry's new clock
    rng = random.Random(5)
    for attempt in range(40):
        # Any order within a cycle (a stop before its start, stops swapped), repeats anywhere;
        # the reopened cycle's events come after the first cycle's, as one contact's events do.
        one, two = first + rng.sample(first, k=2), second + rng.sample(second, k=1)
        rng.shuffle(one)
        rng.shuffle(two)
        store = Store()
        if attempt % 2:
            store.feed(*one, *two)  # one batch
        else:
            for event in one + two:
                store.feed(event)  # one at a time
        assert store.comparable(base.id) == expected, [e.type for e in one + two]
        kinds = sorted(kind for kind, _, _ in store.notices)
        assert kinds == sorted(kind for kind, _, _ in in_order.notices)


def test_a_stop_before_its_start_is_kept_and_settles_the_clock() -> None:
    call = Call(T0)
    store = Store()
    store.feed(call.answered(5 * S))
    assert store.clocks == {} and len(store.held) == 1
    store.feed(call.offered())
    assert store.clock("phone-answer", call.id).status is Status.met
    assert store.clock("phone-wait-max", call.id).status is Status.met


def test_events_for_contacts_never_seen_start_nothing() -> None:
    stranger = Enquiry(T0)
    store = Store()
    store.feed(stranger.acknowledged(T0 + S), stranger.resolved(T0 + 2 * S))
    assert store.clocks == {} and store.notices == []


def test_a_reopened_enquiry_restarts_nothing_already_met() -> None:
    enquiry = Enquiry(T0)
    store = Store()
    store.feed(
        enquiry.opened(),
        enquiry.acknowledged(T0 + S),
        enquiry.resolved(T0 + 2 * S),
        enquiry.reopened(T0 + timedelta(days=1), count=1),
    )
    assert store.clock("email-acknowledge", enquiry.id).status is Status.met
    assert store.clock("email-respond", enquiry.id).status is Status.met
    reopened = store.clock("email-respond", enquiry.id, 1)
    assert reopened.id != store.clock("email-respond", enquiry.id).id
    assert (reopened.status, reopened.started_at) == (Status.pending, T0 + timedelta(days=1))
    assert ("email-acknowledge", 1) not in store.of(enquiry.id)


# -- complaints --


def test_a_complaint_extended_once_gets_the_new_deadline() -> None:
    complaint = Complaint(T0)
    store = Store()
    store.feed(complaint.received())
    first_due = store.clock("complaint-respond", complaint.id, 1).due_at
    assert first_due == london(date(2026, 6, 17), time(17))  # 10 working days
    store.feed(complaint.extended(T0 + timedelta(days=8), working_days=10))
    extended = store.clock("complaint-respond", complaint.id, 1)
    assert extended.due_at == london(date(2026, 7, 1), time(17))
    assert extended.extended_at == T0 + timedelta(days=8)
    store.feed(complaint.extended(T0 + timedelta(days=9), working_days=5))  # only once
    assert store.clock("complaint-respond", complaint.id, 1).due_at == extended.due_at
    store.feed(complaint.responded(london(date(2026, 6, 30), time(12))))
    assert store.clock("complaint-respond", complaint.id, 1).status is Status.met
    # The acknowledgement clock is not extended.
    assert store.clock("complaint-acknowledge", complaint.id, 1).extended_at is None


def test_an_extension_after_the_deadline_is_a_breach() -> None:
    complaint = Complaint(T0)
    store = Store()
    store.feed(complaint.received(), complaint.extended(T0 + timedelta(days=30), working_days=5))
    clock = store.clock("complaint-respond", complaint.id, 1)
    assert clock.status is Status.breached and clock.breached_at == clock.due_at
    # A response made by the deadline but recorded after that extension: kept after all, as
    # in the order the two happened.
    store.feed(complaint.responded(T0 + timedelta(days=5)))
    assert store.clock("complaint-respond", complaint.id, 1).status is Status.met
    assert [n.corrects_breach for n in store.published if n.kind == "sla.met"] == [True]


def test_an_extension_counts_from_the_clocks_deadline_not_the_due_date_the_event_carries() -> None:
    # Under the Code the response is due 10 working days after the acknowledgement; a publisher
    # that counted the extension from receipt would say 10 June, three working days early.
    complaint = Complaint(T0)
    acknowledged = london(date(2026, 6, 8), time(11))
    store = Store(CHC)
    store.feed(
        complaint.received(),
        complaint.acknowledged(acknowledged),
        complaint.extended(
            acknowledged + S, working_days=5, due_at=london(date(2026, 6, 10), time(17))
        ),
    )
    # 10 working days after Monday 8 June: 22 June; 5 more: 29 June.
    assert store.clock("complaint-respond", complaint.id, 1).due_at == london(
        date(2026, 6, 29), time(17)
    )


def test_each_stage_has_its_own_acknowledgement_clock_and_closing_withdraws() -> None:
    complaint = Complaint(T0)
    store = Store()
    store.feed(
        complaint.received(),
        complaint.acknowledged(T0 + S),
        complaint.responded(T0 + timedelta(days=2)),
        complaint.escalated(T0 + timedelta(days=3)),
        complaint.closed(T0 + timedelta(days=4), stage="stage_2"),
    )
    stage_2_ack = store.clock("complaint-acknowledge", complaint.id, 2)
    assert stage_2_ack.started_at == T0 + timedelta(days=3)
    assert stage_2_ack.status is Status.excluded
    assert store.clock("complaint-respond-stage2", complaint.id, 2).status is Status.excluded
    assert store.clock("complaint-acknowledge", complaint.id, 1).status is Status.met


def test_the_complaint_handling_code_counts_from_acknowledgement() -> None:
    complaint = Complaint(T0)
    acknowledged = london(date(2026, 6, 8), time(11))  # Monday, 3 working days later
    store = Store(CHC)
    store.feed(complaint.received())
    assert store.clock("complaint-acknowledge", complaint.id, 1).due_at == london(
        date(2026, 6, 10), time(17)
    )
    assert ("complaint-respond", 1) not in store.of(complaint.id)
    store.feed(complaint.acknowledged(acknowledged))
    respond = store.clock("complaint-respond", complaint.id, 1)
    assert respond.started_at == acknowledged
    assert respond.due_at == london(date(2026, 6, 22), time(17))
    stage_2 = london(date(2026, 7, 1), time(10))
    store.feed(complaint.escalated(stage_2), complaint.acknowledged(stage_2 + S, "stage_2"))
    assert store.clock("complaint-respond-stage2", complaint.id, 2).due_at == london(
        date(2026, 7, 29), time(17)
    )


def test_under_the_code_an_extension_before_the_acknowledgement_extends_the_response_clock() -> (
    None
):
    complaint = Complaint(T0)
    acknowledged = london(date(2026, 6, 8), time(11))
    for order in ("in order", "the extension recorded after the acknowledgement"):
        store = Store(CHC)
        extension = complaint.extended(T0 + timedelta(hours=2), working_days=3)
        if order == "in order":
            store.feed(complaint.received(), extension, complaint.acknowledged(acknowledged))
        else:
            store.feed(complaint.received(), complaint.acknowledged(acknowledged), extension)
        respond = store.clock("complaint-respond", complaint.id, 1)
        # 22 June (10 working days from the acknowledgement) + 3 working days: 25 June.
        assert respond.due_at == london(date(2026, 6, 25), time(17)), order
        assert respond.extended_at == T0 + timedelta(hours=2)
        # The acknowledgement's own clock is never extended.
        assert store.clock("complaint-acknowledge", complaint.id, 1).extended_at is None


def test_a_short_abandon_recorded_after_the_timer_breach_withdraws_it() -> None:
    call = Call(T0)
    live, replay = Store(), Store()
    live.feed(call.offered())
    live.timer_flags("phone-answer", call.id)
    live.timer_flags("phone-wait-max", call.id)
    live.feed(call.abandoned(10 * S))
    replay.feed(call.offered(), call.abandoned(10 * S))
    assert live.comparable(call.id) == replay.comparable(call.id)
    answer = live.clock("phone-answer", call.id)
    assert (answer.status, answer.breached_at, answer.breach_withdrawn_at) == (
        Status.excluded,
        None,
        LATER,
    )
    withdrawn = [n for n in live.published if n.kind == "sla.withdrawn"]
    assert sorted((n.clock.commitment, n.withdrawn) for n in withdrawn) == [
        ("phone-answer", "abandoned"),
        ("phone-wait-max", "abandoned"),
    ]
    # The notice names the breach it withdraws.
    assert {n.clock.breached_at for n in withdrawn} == {T0 + 15 * S, T0 + 600 * S}


def test_a_late_extension_on_a_flagged_clock_runs_it_again_and_it_can_breach_once_more() -> None:
    complaint = Complaint(T0)
    first_due = london(date(2026, 6, 17), time(17))
    live = Store()
    live.feed(complaint.received())
    live.timer_flags("complaint-respond", complaint.id, 1)
    live.feed(complaint.extended(T0 + timedelta(days=8), working_days=2))
    clock = live.clock("complaint-respond", complaint.id, 1)
    assert (clock.status, clock.due_at, clock.breached_at) == (
        Status.pending,
        london(date(2026, 6, 19), time(17)),
        None,
    )
    [withdrawal] = [n for n in live.published if n.kind == "sla.withdrawn"]
    assert (withdrawal.withdrawn, withdrawal.clock.breached_at) == ("extended", first_due)
    # The new deadline has passed too: the timer flags again, under another event id.
    again = live.timer_flags("complaint-respond", complaint.id, 1)
    assert again.breached_at == london(date(2026, 6, 19), time(17))
    assert notice_id(Notice("sla.breached", again)) != notice_id(
        Notice("sla.breached", dataclasses.replace(again, extended_at=None))
    )
    replay = Store()
    replay.feed(complaint.received(), complaint.extended(T0 + timedelta(days=8), working_days=2))
    replay.timer_flags("complaint-respond", complaint.id, 1)
    assert live.comparable(complaint.id) == replay.comparable(complaint.id)


TIMELINE = [
    ("enquiry", "acknowledged"),
    ("enquiry", "responded"),
    ("enquiry", "resolved"),
    ("enquiry", "reopened"),
    ("complaint", "acknowledged"),
    ("complaint", "extended"),
    ("complaint", "responded"),
    ("complaint", "closed"),
    ("call", "answered"),
    ("call", "abandoned"),
    ("enquiry", "corrected"),
    ("enquiry", "voided"),
    ("complaint", "corrected"),
    ("complaint", "voided"),
]
CHANNELS = [Channel.email, Channel.letter, Channel.voicemail, Channel.phone]


def _history(kind: str, steps: list[tuple[str, int]]) -> tuple[UUID, list[CloudEvent]]:
    """A contact's start and the given steps, each `offset` minutes (or working hours) after."""
    if kind == "call":
        call = Call(T0)
        events = [call.offered()]
        for step, offset in steps:
            after = offset * S
            events.append(call.answered(after) if step == "answered" else call.abandoned(after))
        return call.id, events
    if kind == "enquiry":
        enquiry = Enquiry(T0)
        events = [enquiry.opened()]
        for step, offset in steps:
            at = T0 + timedelta(hours=offset)
            if step == "corrected":
                # An earlier receipt (never after a step) on another channel, or the same.
                earlier = T0 - timedelta(hours=offset % 72)
                channel = CHANNELS[offset % len(CHANNELS)]
                events.append(enquiry.corrected(at, received_at=earlier, channel=channel))
            else:
                events.append(getattr(enquiry, step)(at))
        return enquiry.id, events
    complaint = Complaint(T0)
    events = [complaint.received()]
    for step, offset in steps:
        at = T0 + timedelta(hours=offset)
        if step == "extended":
            events.append(complaint.extended(at, working_days=1 + offset % 10))
        elif step == "corrected":
            events.append(complaint.corrected(at, received_at=T0 - timedelta(hours=offset % 72)))
        else:
            events.append(getattr(complaint, step)(at))
    return complaint.id, events


@settings(max_examples=150, deadline=None)
@given(
    policy=st.sampled_from([DEFAULT, CHC]),
    kind=st.sampled_from(["enquiry", "complaint", "call"]),
    raw=st.lists(st.tuples(st.integers(0, len(TIMELINE) - 1), st.integers(0, 800)), max_size=6),
    flags=st.lists(st.booleans(), min_size=7, max_size=7),
)
def test_replay_equals_live_whenever_the_timer_flags_between_late_records(
    policy: Policy, kind: str, raw: list[tuple[int, int]], flags: list[bool]
) -> None:
    # Every event is recorded long after it happened (now = LATER), so every running clock is
    # overdue and the timer may flag it between any two records. Whatever it flagged, the
    # clocks must end as a replay of the same events (no timer between) leaves them, once the
    # replay's end flags what is still overdue. Corrections and voids among the records too.
    steps = [s for s in (TIMELINE[i] for i, _ in raw) if s[0] == kind]
    offsets = [offset for i, offset in raw if TIMELINE[i][0] == kind]
    subject, events = _history(
        kind, [(step, o) for (_, step), o in zip(steps, offsets, strict=True)]
    )
    live, replay = Store(policy), Store(policy)
    for event, flag in zip(events, flags, strict=False):
        live.feed(event)
        if flag:
            live.flag_overdue()
    live.feed(*events[len(flags) :])
    live.flag_overdue()
    replay.feed(*events)
    replay.flag_overdue()
    assert live.comparable(subject) == replay.comparable(subject)


# -- ids --


def test_clock_and_notice_ids_are_the_same_every_time() -> None:
    subject = uuid4()
    assert clock_id("phone-answer", subject, 0) == clock_id("phone-answer", subject, 0)
    ids = {clock_id(c, subject, n) for c, n in itertools.product(("a", "b"), (0, 1))}
    assert len(ids) == 4
    store = Store()
    enquiry = Enquiry(T0)
    store.feed(enquiry.opened())
    clock = store.clock("email-acknowledge", enquiry.id)
    breached = Notice("sla.breached", clock)
    assert notice_id(breached) == notice_id(Notice("sla.breached", clock.snapshot()))
    assert notice_id(breached) != notice_id(Notice("sla.met", clock))
    # A breach withdrawn by a late-recorded extension may breach again: another id.
    extended = dataclasses.replace(clock, extended_at=T0 + S)
    assert notice_id(Notice("sla.breached", extended)) != notice_id(breached)
    withdrawals = {
        notice_id(Notice("sla.withdrawn", clock, withdrawn=reason))
        for reason in ("extended", "abandoned")
    }
    assert len(withdrawals) == 2


@pytest.mark.parametrize("hour", [8, 17, 20])
def test_calls_outside_office_hours_have_no_elapsed_clock(hour: int) -> None:
    call = Call(datetime.combine(WEDNESDAY, time(hour), tzinfo=UTC).astimezone(UTC))
    store = Store()
    store.feed(call.offered())
    local_hour = call.offered_at.astimezone(CALENDAR.timezone).hour
    assert (store.of(call.id) == {}) == (not 9 <= local_hour < 17)


def test_a_notice_keeps_the_clock_as_it_stood_when_it_was_made() -> None:
    call = Call(T0)
    store = Store()
    # Met, then an earlier stop recorded in the same batch moves stopped_at on the clock only.
    store.feed(call.offered(), call.answered(5 * S), call.abandoned(2 * S))
    met = next(n for n in store.published if n.kind == "sla.met" and n.clock.subject == call.id)
    clock = store.clock(met.clock.commitment, call.id, 0)
    assert clock.stopped_at == T0 + 2 * S
    assert met.clock.stopped_at == T0 + 5 * S
    assert met.clock is not clock
    assert dataclasses.replace(met.clock, stopped_at=clock.stopped_at) == clock


# -- a newer producer's events (a rolling upgrade) --


def newer(event: CloudEvent, **data: str) -> CloudEvent:
    """`event` as a newer producer would write it, with values this build does not know, read
    as the consumer reads it."""
    wire = orjson.loads(encode_event(event))
    wire["data"].update(data)
    return decode_event(orjson.dumps(wire), keep_unknown_values=True)


def test_a_contact_on_an_unknown_channel_gets_the_clocks_not_restricted_by_channel() -> None:
    complaint = Complaint(T0)
    store = Store()
    store.feed(newer(complaint.received(), channel="whatsapp"))
    clocks = store.of(complaint.id)
    # The complaint commitments hold whatever the channel; the channel is kept as it came.
    assert set(clocks) == {("complaint-acknowledge", 1), ("complaint-respond", 1)}
    assert all(c.channel == "whatsapp" and not c.channel.recognised for c in clocks.values())
    store.feed(newer(complaint.acknowledged(T0 + S), channel="whatsapp"))
    assert store.clock("complaint-acknowledge", complaint.id, 1).status is Status.met


def test_an_enquiry_on_an_unknown_channel_starts_no_channel_s_clock() -> None:
    # Every enquiry commitment lists its channels, and none lists one this build does not know.
    enquiry = Enquiry(T0)
    store = Store()
    store.feed(newer(enquiry.opened(), channel="whatsapp"))
    assert store.of(enquiry.id) == {}


def test_a_stage_this_build_does_not_know_starts_and_stops_nothing() -> None:
    complaint = Complaint(T0)
    assert step_of(newer(complaint.received(), stage="regulator")) is None
    assert step_of(newer(complaint.escalated(T0 + S), to_stage="regulator")) is None
    store = Store()
    store.feed(complaint.received(), newer(complaint.acknowledged(T0 + S), stage="regulator"))
    assert store.clock("complaint-acknowledge", complaint.id, 1).status is Status.pending


# -- corrections and voids --


def _kinds(store: Store) -> list[str]:
    return [kind for kind, _, _ in store.notices]


def test_a_corrected_receipt_withdraws_a_breach_no_longer_missed() -> None:
    # Received Wednesday 10:00 by email, acknowledged Saturday: a breach (due Thursday 17:00).
    enquiry = Enquiry(T0)
    saturday = T0 + timedelta(days=3)
    store = Store()
    store.feed(enquiry.opened(), enquiry.acknowledged(saturday))
    clock = store.clock("email-acknowledge", enquiry.id)
    assert clock.status is Status.breached
    store.notices.clear()
    store.published.clear()
    # It was in fact received on Friday: due Monday 17:00, so the Saturday acknowledgement met it.
    friday = T0 + timedelta(days=2)
    store.feed(enquiry.corrected(T0 + timedelta(days=4), received_at=friday))
    clock = store.clock("email-acknowledge", enquiry.id)
    assert (clock.status, clock.started_at) == (Status.met, friday)
    assert clock.due_at == london(date(2026, 6, 8), time(17))
    withdrawn, met = [n for n in store.published if n.clock.id == clock.id]
    assert (withdrawn.kind, withdrawn.withdrawn, withdrawn.status_after) == (
        "sla.withdrawn",
        "corrected",
        Status.met,
    )
    assert met.kind == "sla.met" and met.stopped_at == saturday
    # Notices after a correction are new events, not repeats of those withdrawn.
    assert len({notice_id(n) for n in store.published}) == len(store.published)
    assert notice_id(met) != notice_id(
        Notice("sla.met", dataclasses.replace(met.clock, revision=0))
    )


def test_a_corrected_receipt_earlier_breaches_a_clock_met_before() -> None:
    enquiry = Enquiry(T0)
    store = Store()
    store.feed(enquiry.opened(), enquiry.acknowledged(T0 + timedelta(days=1)))
    assert store.clock("email-acknowledge", enquiry.id).status is Status.met
    store.feed(enquiry.corrected(T0 + timedelta(days=2), received_at=T0 - timedelta(days=5)))
    clock = store.clock("email-acknowledge", enquiry.id)
    assert clock.status is Status.breached and clock.stopped_at == T0 + timedelta(days=1)
    assert _kinds(store)[-2:] == ["sla.withdrawn", "sla.breached"]


def test_a_corrected_channel_cancels_clocks_that_no_longer_apply_and_starts_those_that_do() -> None:
    enquiry = Enquiry(T0)
    responded = T0 + timedelta(days=6)  # Tuesday: the email's 3 working days ended Monday
    store = Store()
    store.feed(enquiry.opened(), enquiry.responded(responded))
    assert store.clock("email-respond", enquiry.id).status is Status.breached
    store.feed(enquiry.corrected(T0 + timedelta(days=7), channel=Channel.letter))
    assert store.clock("email-respond", enquiry.id).status is Status.cancelled
    assert store.clock("email-acknowledge", enquiry.id).status is Status.cancelled
    # A letter has 10 working days: the response it had already had meets it.
    letter = store.clock("letter-respond", enquiry.id)
    assert (letter.status, letter.stopped_at, letter.channel) == (
        Status.met,
        responded,
        Channel.letter,
    )
    # Corrected back: the email clocks are decided again, the letter's cancelled.
    store.feed(enquiry.corrected(T0 + timedelta(days=8), channel=Channel.email))
    assert store.clock("email-respond", enquiry.id).status is Status.breached
    assert store.clock("letter-respond", enquiry.id).status is Status.cancelled


def test_a_correction_of_the_service_area_relabels_a_decided_clock() -> None:
    enquiry = Enquiry(T0, area="waste")
    store = Store()
    store.feed(enquiry.opened(), enquiry.acknowledged(T0 + timedelta(hours=1)))
    store.feed(enquiry.corrected(T0 + timedelta(hours=2), area="housing"))
    clock = store.clock("email-acknowledge", enquiry.id)
    assert (clock.status, clock.service_area) == (Status.met, "housing")
    relabelled = [n for n in store.published if n.clock.id == clock.id][-1]
    assert relabelled.kind == "sla.met" and relabelled.clock.service_area == "housing"


def test_a_void_cancels_every_clock_and_withdraws_its_breach() -> None:
    complaint = Complaint(T0)
    store = Store()
    store.feed(complaint.received())
    store.timer_flags("complaint-acknowledge", complaint.id, 1)
    store.feed(complaint.voided(T0 + timedelta(days=30)))
    clocks = store.of(complaint.id)
    assert clocks and {c.status for c in clocks.values()} == {Status.cancelled}
    assert [(n.kind, n.withdrawn) for n in store.published] == [("sla.withdrawn", "voided")]
    assert store.published[0].status_after is Status.cancelled
    # Nothing of it runs again, whatever arrives later.
    store.feed(complaint.acknowledged(T0 + timedelta(days=31)), complaint.escalated(LATER - S))
    assert {c.status for c in store.of(complaint.id).values()} == {Status.cancelled}
    assert len(store.published) == 1
    store.feed(complaint.voided(T0 + timedelta(days=30)))
    assert len(store.published) == 1
