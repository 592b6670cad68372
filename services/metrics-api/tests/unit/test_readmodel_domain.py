"""The counting rules by hand-worked examples: what a batch's ledger counts, and where, with no
database. Each test states its example and the figures worked out by hand.

Local dates (Europe/London) of the instants used:
  2019-06-04 08:00 UTC = 09:00 BST Tuesday 4 June 2019 (in office hours, 09:00-17:00)
  2019-06-04 23:30 UTC = 00:30 BST Wednesday 5 June 2019
  2019-06-08 10:00 UTC = 11:00 BST Saturday 8 June 2019 (not a working day)
  2019-07-01 16:00 UTC = 17:00 BST Monday 1 July 2019
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from sqlalchemy import Table

from contact_common.calendar import WorkingCalendar
from metrics_api.readmodel.domain import (
    WITHDRAWN,
    Breach,
    Call,
    CallDayCounts,
    CallDayKey,
    CallWaitDayCounts,
    CallWaitDayKey,
    Clock,
    ClockCount,
    Complaint,
    ComplaintDayCounts,
    ComplaintDayKey,
    ContactStep,
    Correction,
    CounterKey,
    CountingRules,
    Counts,
    Enquiry,
    EnquiryDayCounts,
    EnquiryDayKey,
    Feedback,
    FeedbackDayCounts,
    FeedbackDayKey,
    Ledger,
    SlaDayCounts,
    SlaDayKey,
    Visit,
    VisitDayCounts,
    VisitDayKey,
    by_month,
)
from metrics_api.readmodel.models import COUNTERS, CountedClock, CountedStep, OpenBreach

# The thresholds of the examples below, stated here as the policy file states them: 15 s to
# answer a call, 5 minutes at reception.
RULES = CountingRules(
    timezone=ZoneInfo("Europe/London"), phone_answer_seconds=15, reception_attend_seconds=300
)
CALENDAR = WorkingCalendar()
AREA = "waste"
TUESDAY = datetime(2019, 6, 4, 8, 0, tzinfo=UTC)
LATE_TUESDAY = datetime(2019, 6, 4, 23, 30, tzinfo=UTC)  # Wednesday 5 June locally
SATURDAY = datetime(2019, 6, 8, 10, 0, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def ledger(**state: object) -> Ledger:
    """A batch's ledger, over what earlier batches counted (`steps`, `clocks`, `breaches`)."""
    return Ledger(rules=RULES, calendar=CALENDAR, **state)  # type: ignore[arg-type]


def enquiry(channel: str = "email", received_at: datetime = TUESDAY) -> Enquiry:
    return Enquiry(enquiry_id=uuid4(), channel=channel, service_area=AREA, received_at=received_at)


def call(offered_at: datetime = TUESDAY, area: str | None = AREA) -> Call:
    return Call(call_id=uuid4(), channel="phone", service_area=area, offered_at=offered_at)


def visit(area: str | None = AREA) -> Visit:
    return Visit(visit_id=uuid4(), service_area=area, arrived_at=TUESDAY)


def clock(
    due_at: datetime, *, contact_id: UUID | None = None, started_at: datetime = TUESDAY
) -> Clock:
    return Clock(
        clock_id=uuid4(),
        commitment="email-respond",
        contact_type="enquiry",
        contact_id=contact_id or uuid4(),
        channel="email",
        service_area=AREA,
        started_at=started_at,
        due_at=due_at,
    )


def enquiries_on(day: date, channel: str = "email") -> EnquiryDayKey:
    return EnquiryDayKey(received_on=day, channel=channel, service_area=AREA)


def deadlines_on(day: date) -> SlaDayKey:
    return SlaDayKey(due_on=day, commitment="email-respond", channel="email", service_area=AREA)


# -- enquiries: each step once, on the day received ------------------------------------------------


def test_an_enquiry_counts_once_however_many_of_its_events_arrive() -> None:
    # Opened, acknowledged, resolved at first point, and the resolution delivered again under
    # another id: one enquiry, one resolution, one first point resolution.
    batch, e = ledger(), enquiry()
    batch.enquiry_seen(e, at=TUESDAY)
    batch.enquiry_seen(e, at=TUESDAY + HOUR)
    batch.enquiry_resolved(e, at=TUESDAY + 2 * HOUR, first_point=True)
    batch.enquiry_resolved(e, at=TUESDAY + 2 * HOUR, first_point=True)
    assert dict(batch.counts()) == {
        enquiries_on(date(2019, 6, 4)): EnquiryDayCounts(opened=1, resolved=1, first_point=1)
    }
    assert batch.finished == {e.enquiry_id: TUESDAY + 2 * HOUR}


def test_an_enquiry_counts_on_the_local_day_received_whatever_event_comes_first() -> None:
    # Received 23:30 UTC on 4 June, which is 00:30 BST on 5 June. Its resolution a week later
    # arrives before its opening: the resolution counts it, against 5 June; the opening adds
    # nothing.
    batch, e = ledger(), enquiry(received_at=LATE_TUESDAY)
    batch.enquiry_resolved(e, at=LATE_TUESDAY + 7 * DAY, first_point=False)
    batch.enquiry_seen(e, at=LATE_TUESDAY)
    assert dict(batch.counts()) == {
        enquiries_on(date(2019, 6, 5)): EnquiryDayCounts(opened=1, resolved=1)
    }


def test_a_reopen_undoes_first_point_resolution_whichever_came_first() -> None:
    # A: resolved at first point (+1), reopened (-1), resolved again "at first point" (the
    #    reopen stands: 0). B: reopened before its first point resolution arrives (0).
    # Two enquiries, two resolved, none at first point.
    batch, a, b = ledger(), enquiry(), enquiry()
    batch.enquiry_resolved(a, at=TUESDAY + HOUR, first_point=True)
    batch.enquiry_reopened(a, at=TUESDAY + DAY)
    batch.enquiry_resolved(a, at=TUESDAY + 2 * DAY, first_point=True)
    batch.enquiry_reopened(b, at=TUESDAY + DAY)
    batch.enquiry_resolved(b, at=TUESDAY + 2 * DAY, first_point=True)
    assert dict(batch.counts()) == {
        enquiries_on(date(2019, 6, 4)): EnquiryDayCounts(opened=2, resolved=2, first_point=0)
    }
    # Finished with at the latest resolution, after the reopen, even if the first resolution
    # is delivered again late.
    batch.enquiry_resolved(a, at=TUESDAY + HOUR, first_point=True)
    assert batch.finished[a.enquiry_id] == TUESDAY + 2 * DAY


def test_late_and_duplicate_events_see_what_earlier_batches_counted() -> None:
    # An earlier batch counted the enquiry opened, resolved and at first point. Now its
    # resolution comes again (nothing) and then a reopen: first point -1, nothing else.
    e = enquiry()
    counted = {
        ContactStep(e.enquiry_id, step): TUESDAY for step in ("opened", "resolved", "first_point")
    }
    batch = ledger(steps=counted)
    batch.enquiry_resolved(e, at=TUESDAY + HOUR, first_point=True)
    assert batch.counts() == []
    batch.enquiry_reopened(e, at=TUESDAY + DAY)
    assert dict(batch.counts()) == {
        enquiries_on(date(2019, 6, 4)): EnquiryDayCounts(first_point=-1)
    }
    assert batch.new_steps == {ContactStep(e.enquiry_id, "reopened"): TUESDAY + DAY}


# -- calls and visits ------------------------------------------------------------------------------


def test_calls_answered_within_the_target_and_short_abandons() -> None:
    # Five calls on Tuesday in office hours, the answer target 15 s:
    #   answered after 10 s, 40 s and 15 s (on the target counts as within): 2 within;
    #   abandoned after 4 s (a short abandon) and after 30 s.
    # offered 5, answered 3, within 2, abandoned 2, short 1; waits 10 + 15 + 40 = 65 s, longest
    # 40 s; the histogram has one call each at 10, 15 and 40 seconds.
    batch = ledger()
    for wait in (10.0, 40.0, 15.0):
        c = call()
        batch.call_offered(c, at=TUESDAY)
        batch.call_answered(c, at=TUESDAY, wait_seconds=wait)
    for wait in (4.0, 30.0):
        batch.call_abandoned(call(), at=TUESDAY, wait_seconds=wait)  # seen first by its outcome
    tuesday = CallDayKey(
        offered_on=date(2019, 6, 4), channel="phone", service_area=AREA, in_office_hours=True
    )
    assert dict(batch.counts()) == {
        tuesday: CallDayCounts(
            offered=5,
            answered=3,
            answered_within_target=2,
            abandoned=2,
            short_abandoned=1,
            wait_seconds_sum=65.0,
            wait_seconds_max=40.0,
        ),
        **{
            CallWaitDayKey(offered_on=date(2019, 6, 4), channel="phone", wait_second=second): (
                CallWaitDayCounts(answered=1)
            )
            for second in (10, 15, 40)
        },
    }


def test_a_call_has_one_outcome_whichever_system_reports_it() -> None:
    # A Saturday call with no service area, answered after 15.5 s (0.5 s over the target),
    # reported by telephony and by the contractor, and a wait of 12 minutes reported once.
    # Two calls out of office hours, under the "" area; 15.5 s is in the 15 s bucket and
    # 720 s in the "10 minutes or more" bucket (600).
    batch, c, long_wait = ledger(), call(SATURDAY, area=None), call(SATURDAY, area=None)
    batch.call_answered(c, at=SATURDAY, wait_seconds=15.5)
    batch.call_answered(c, at=SATURDAY, wait_seconds=15.5)
    batch.call_answered(long_wait, at=SATURDAY, wait_seconds=720.0)
    saturday = CallDayKey(
        offered_on=date(2019, 6, 8), channel="phone", service_area="", in_office_hours=False
    )
    counts = dict(batch.counts())
    assert counts[saturday] == CallDayCounts(
        offered=2, answered=2, wait_seconds_sum=735.5, wait_seconds_max=720.0
    )
    buckets = {
        k.wait_second: v.answered for k, v in counts.items() if isinstance(k, CallWaitDayKey)
    }
    assert buckets == {15: 1, 600: 1}
    assert set(batch.finished) == {c.call_id, long_wait.call_id}


def test_visitors_seen_within_five_minutes() -> None:
    # Four visitors arrive; three are seen after 301 s, 299 s and 300 s (on the target:
    # within), one not yet. arrived 4, attended 3, within 2, waits 900 s, longest 301 s.
    batch = ledger()
    batch.visit_arrived(visit(), at=TUESDAY)
    for wait in (301.0, 299.0, 300.0):
        v = visit()
        batch.visit_arrived(v, at=TUESDAY)
        batch.visit_attended(v, at=TUESDAY + timedelta(seconds=wait), wait_seconds=wait)
        batch.visit_attended(v, at=TUESDAY + timedelta(seconds=wait), wait_seconds=wait)
    assert dict(batch.counts()) == {
        VisitDayKey(arrived_on=date(2019, 6, 4), service_area=AREA): VisitDayCounts(
            arrived=4,
            attended=3,
            attended_within_target=2,
            wait_seconds_sum=900.0,
            wait_seconds_max=301.0,
        )
    }


def test_scores_count_once_on_the_day_given() -> None:
    # Scores of 4 (delivered twice) and 5 given at 00:30 BST on 5 June: 2 responses, sum 9.
    batch = ledger()
    four, five = (
        Feedback(
            feedback_id=uuid4(),
            channel="portal",
            service_area=AREA,
            submitted_at=LATE_TUESDAY,
            score=score,
        )
        for score in (4, 5)
    )
    for feedback in (four, four, five):
        batch.feedback_submitted(feedback, at=LATE_TUESDAY)
    key = FeedbackDayKey(submitted_on=date(2019, 6, 5), channel="portal", service_area=AREA)
    assert dict(batch.counts()) == {key: FeedbackDayCounts(responses=2, score_sum=9)}


# -- complaints: each decision at its stage, on the day it was made --------------------------------


def test_complaint_decisions_count_per_stage_on_the_day_made() -> None:
    # Received on 4 June at stage one, extended on 9 June, not upheld on 24 June (that decision
    # delivered twice), escalated on 29 June, partly upheld at stage two on 14 July, and closed
    # on 12 September with the ombudsman's decision: upheld. Each step once, on its own day.
    batch = ledger()
    c = Complaint(complaint_id=uuid4(), channel="email", service_area=AREA)
    batch.complaint_received(c, at=TUESDAY, stage="stage_1")
    batch.complaint_extended(c, at=TUESDAY + 5 * DAY, stage="stage_1")
    for _ in range(2):
        batch.complaint_decided(c, at=TUESDAY + 20 * DAY, stage="stage_1", outcome="not_upheld")
    batch.complaint_escalated(c, at=TUESDAY + 25 * DAY, to_stage="stage_2")
    batch.complaint_decided(c, at=TUESDAY + 40 * DAY, stage="stage_2", outcome="partly_upheld")
    batch.complaint_closed(c, at=TUESDAY + 100 * DAY, ombudsman_decision="upheld")

    def on(day: date, stage: str) -> ComplaintDayKey:
        return ComplaintDayKey(day=day, channel="email", service_area=AREA, stage=stage)

    assert dict(batch.counts()) == {
        on(date(2019, 6, 4), "stage_1"): ComplaintDayCounts(received=1),
        on(date(2019, 6, 9), "stage_1"): ComplaintDayCounts(extended=1),
        on(date(2019, 6, 24), "stage_1"): ComplaintDayCounts(decided=1, not_upheld=1),
        on(date(2019, 6, 29), "stage_2"): ComplaintDayCounts(escalated_in=1),
        on(date(2019, 7, 14), "stage_2"): ComplaintDayCounts(decided=1, partly_upheld=1),
        on(date(2019, 9, 12), "ombudsman"): ComplaintDayCounts(decided=1, upheld=1),
    }
    assert c.complaint_id in batch.finished


# -- SLA clocks: met or breached on the deadline's local date --------------------------------------


def test_clocks_count_once_met_or_breached_on_the_deadlines_local_date() -> None:
    # Three clocks due 23:30 UTC on 4 June, which is 00:30 BST on 5 June: one met (its notice
    # delivered twice), one breached and still open, one breached and stopped late.
    # 5 June: met 1, breached 2; one breach to chase.
    batch = ledger()
    met, open_, stopped = (clock(LATE_TUESDAY) for _ in range(3))
    batch.clock_met(met, corrects_breach=False)
    batch.clock_met(met, corrects_breach=False)
    batch.clock_breached(open_, breached_at=LATE_TUESDAY, stopped_at=None)
    batch.clock_breached(stopped, breached_at=LATE_TUESDAY, stopped_at=None)
    batch.clock_stopped(stopped)
    assert dict(batch.counts()) == {deadlines_on(date(2019, 6, 5)): SlaDayCounts(met=1, breached=2)}
    assert [b.clock.clock_id for b in batch.breaches_to_open()] == [open_.clock_id]
    assert batch.counted_clocks[stopped.clock_id] == ClockCount(
        "breached", deadlines_on(date(2019, 6, 5))
    )


def test_a_withdrawn_breach_moves_from_breached_to_met_once() -> None:
    # Breached on 4 June; then a stop made in time is recorded with the deadline extended to
    # 1 July (sla.met correcting the breach), delivered twice.
    # 4 June: breached 1 - 1 = 0; 1 July: met 1, once; nothing left to chase.
    batch = ledger()
    c = clock(TUESDAY)
    batch.clock_breached(c, breached_at=TUESDAY, stopped_at=None)
    extended = Clock(**{**_values(c), "due_at": datetime(2019, 7, 1, 16, tzinfo=UTC)})
    batch.clock_met(extended, corrects_breach=True)
    batch.clock_met(extended, corrects_breach=True)
    assert dict(batch.counts()) == {
        deadlines_on(date(2019, 6, 4)): SlaDayCounts(breached=0),
        deadlines_on(date(2019, 7, 1)): SlaDayCounts(met=1),
    }
    assert batch.breaches_to_open() == []
    assert c.clock_id in batch.closed_clocks


def test_a_breach_withdrawn_outright_counts_nowhere_until_its_clock_is_decided_again() -> None:
    # Clock A breached on 4 June; an extension agreed in time is recorded (sla.withdrawn, twice
    # delivered) and the clock, due 1 July now, is met. Clock B breached on 4 June; a short
    # abandon recorded late withdraws it for good. Clock C's withdrawal arrives with no breach
    # counted: nothing to take away.
    # 4 June: breached 2 - 2 = 0; 1 July: met 1 (A); nothing left to chase.
    batch = ledger()
    a, b, c = (clock(TUESDAY) for _ in range(3))
    for breached in (a, b):
        batch.clock_breached(breached, breached_at=TUESDAY, stopped_at=None)
    a_extended = Clock(**{**_values(a), "due_at": datetime(2019, 7, 1, 16, tzinfo=UTC)})
    batch.clock_withdrawn(a_extended)
    batch.clock_withdrawn(a_extended)
    batch.clock_withdrawn(b)
    batch.clock_withdrawn(c)
    assert batch.breaches_to_open() == []
    batch.clock_met(a_extended, corrects_breach=False)
    assert dict(batch.counts()) == {
        deadlines_on(date(2019, 6, 4)): SlaDayCounts(breached=0),
        deadlines_on(date(2019, 7, 1)): SlaDayCounts(met=1),
    }
    assert batch.counted_clocks[a.clock_id].outcome == "met"
    assert batch.counted_clocks[b.clock_id].outcome == WITHDRAWN
    assert c.clock_id not in batch.counted_clocks


def test_a_breach_counted_by_an_earlier_batch_is_withdrawn_where_it_was_counted() -> None:
    # An earlier batch counted clock A breached on 4 June. Clock B was counted before the
    # record kept outcomes: its open breach (due 4 June) says where. Clock C was too, with no
    # breach open, so nowhere says: its correction moves nothing.
    # 4 June: breached -2, met +2 (A and B, corrected on time).
    a, b, c = (clock(TUESDAY) for _ in range(3))
    june_4 = deadlines_on(date(2019, 6, 4))
    batch = ledger(
        clocks={
            a.clock_id: ClockCount("breached", june_4),
            b.clock_id: ClockCount(None, None),
            c.clock_id: ClockCount(None, None),
        },
        breaches={b.clock_id: Breach(b, TUESDAY)},
    )
    for corrected in (a, b, c):
        batch.clock_met(corrected, corrects_breach=True)
    assert dict(batch.counts()) == {june_4: SlaDayCounts(met=2, breached=-2)}
    assert set(batch.counted_clocks) == {a.clock_id, b.clock_id}


def test_a_finished_contact_leaves_no_breach_to_chase() -> None:
    # An enquiry's clock breaches, then the enquiry is resolved: the breach closes. Two more
    # clocks, started before the resolution and at the very instant of it, breach after it:
    # neither opens. After a reopen, a clock started at the reopen breaches: it opens.
    # All four count as breached.
    batch, e = ledger(), enquiry()
    resolved_at, reopened_at = TUESDAY + 2 * DAY, TUESDAY + 3 * DAY
    before = clock(TUESDAY + DAY, contact_id=e.enquiry_id)
    after = clock(TUESDAY + DAY, contact_id=e.enquiry_id)
    at_the_resolution = clock(reopened_at, contact_id=e.enquiry_id, started_at=resolved_at)
    later = clock(reopened_at + 3 * DAY, contact_id=e.enquiry_id, started_at=reopened_at)
    batch.clock_breached(before, breached_at=before.due_at, stopped_at=None)
    batch.enquiry_resolved(e, at=resolved_at, first_point=False)
    for late in (after, at_the_resolution):
        batch.clock_breached(late, breached_at=late.due_at, stopped_at=None)
    batch.enquiry_reopened(e, at=reopened_at)
    batch.clock_breached(later, breached_at=later.due_at, stopped_at=None)
    assert [b.clock.clock_id for b in batch.breaches_to_open()] == [later.clock_id]
    assert e.enquiry_id in batch.finished_contacts
    sla = {k: v for k, v in batch.counts() if isinstance(k, SlaDayKey)}
    assert sum(v.breached for v in sla.values()) == 4


def test_rows_by_month_sum_their_counters_and_keep_the_longest_wait() -> None:
    # Two June days and a July day of phone calls in waste: June's rows add up (3 + 2 offered,
    # 40 + 25 seconds waited) and keep the longer of the longest waits (30 s, not 20 s); July's
    # row is its own month's. The key's date becomes its month's first day.
    def day(month: int, on: int) -> CallDayKey:
        return CallDayKey(
            offered_on=date(2019, month, on),
            channel="phone",
            service_area=AREA,
            in_office_hours=True,
        )

    def calls(offered: int, waited: float, longest: float) -> CallDayCounts:
        return CallDayCounts(offered=offered, wait_seconds_sum=waited, wait_seconds_max=longest)

    june, july = day(6, 1), day(7, 1)
    rows: list[tuple[CounterKey, Counts]] = [
        (day(6, 4), calls(3, 40, 30)),
        (day(6, 28), calls(2, 25, 20)),
        (day(7, 2), calls(1, 5, 5)),
    ]
    assert by_month(rows) == [(june, calls(5, 65, 30)), (july, calls(1, 5, 5))]
    # A complaint's stage is part of its month's key: two stages stay apart.
    stage_1 = ComplaintDayKey(day=date(2019, 6, 4), channel="email", service_area=AREA, stage="1")
    stage_2 = replace(stage_1, stage="2")
    assert by_month(
        [(stage_1, ComplaintDayCounts(received=1)), (stage_2, ComplaintDayCounts(received=2))]
    ) == [
        (replace(stage_1, day=date(2019, 6, 1)), ComplaintDayCounts(received=1)),
        (replace(stage_2, day=date(2019, 6, 1)), ComplaintDayCounts(received=2)),
    ]


# -- the rows are the tables' columns, by name -----------------------------------------------------


def _values(row: object) -> dict[str, object]:
    return {f.name: getattr(row, f.name) for f in fields(row)}  # type: ignore[arg-type]


def _columns(model: object) -> list[str]:
    table: Table = model.__table__  # type: ignore[attr-defined]
    return [c.name for c in table.columns]


def test_each_key_and_its_counts_name_their_tables_columns() -> None:
    for key, counts, name in [
        (EnquiryDayKey, EnquiryDayCounts, "enquiry_day"),
        (CallDayKey, CallDayCounts, "call_day"),
        (CallWaitDayKey, CallWaitDayCounts, "call_wait_day"),
        (VisitDayKey, VisitDayCounts, "visit_day"),
        (FeedbackDayKey, FeedbackDayCounts, "feedback_day"),
        (ComplaintDayKey, ComplaintDayCounts, "complaint_day"),
        (SlaDayKey, SlaDayCounts, "sla_day"),
    ]:
        table = COUNTERS[key]
        assert table.name == name
        assert [f.name for f in fields(key)] == [c.name for c in table.primary_key.columns]
        assert [f.name for f in fields(counts)] == [
            c.name for c in table.columns if not c.primary_key
        ]
    assert [f.name for f in fields(Clock)] + ["breached_at"] == _columns(OpenBreach)
    assert ["clock_id", "outcome", *(f.name for f in fields(SlaDayKey))] == _columns(CountedClock)
    assert [f.name for f in fields(ContactStep)] + ["occurred_at"] == _columns(CountedStep)


# -- corrections and voids: counts moved or removed, exactly ---------------------------------


def _net(batch: Ledger) -> dict[object, object]:
    """The batch's changes without rows whose counters all net to zero."""
    return {
        key: counts
        for key, counts in batch.counts()
        if any(getattr(counts, f.name) for f in fields(counts))
    }


def test_a_corrected_channel_and_month_moves_the_enquiry_and_its_resolution() -> None:
    # Opened on 1 July by email, resolved at first point; then found to be a letter received on
    # 28 June: its opening, resolution and first point move to 28 June, letters, whole.
    batch, e = ledger(), enquiry(received_at=datetime(2019, 7, 1, 9, tzinfo=UTC))
    batch.enquiry_seen(e, at=e.received_at)
    batch.enquiry_resolved(e, at=e.received_at + HOUR, first_point=True)
    corrected_at = datetime(2019, 6, 28, 9, tzinfo=UTC)
    correction = Correction(
        subject_id=e.enquiry_id, received_at=corrected_at, channel="letter", service_area=AREA
    )
    batch.contact_corrected(correction)
    batch.contact_corrected(correction)  # the same facts again move nothing
    assert _net(batch) == {
        enquiries_on(date(2019, 6, 28), "letter"): EnquiryDayCounts(
            opened=1, resolved=1, first_point=1
        )
    }
    # The next batch reads where they were moved to: a reopen takes first point from there.
    later = ledger(steps=dict(batch.steps), places=dict(batch.places))
    moved = Enquiry(
        enquiry_id=e.enquiry_id, channel="letter", service_area=AREA, received_at=corrected_at
    )
    later.enquiry_reopened(moved, at=TUESDAY + 40 * DAY)
    assert _net(later) == {
        enquiries_on(date(2019, 6, 28), "letter"): EnquiryDayCounts(first_point=-1)
    }


def test_a_voided_enquiry_is_removed_and_counts_nothing_more() -> None:
    batch, e = ledger(), enquiry()
    batch.enquiry_seen(e, at=TUESDAY)
    batch.enquiry_resolved(e, at=TUESDAY + HOUR, first_point=False)
    batch.contact_voided(e.enquiry_id, at=TUESDAY + 2 * HOUR)
    batch.enquiry_reopened(e, at=TUESDAY + 3 * HOUR)
    batch.enquiry_resolved(e, at=TUESDAY + 4 * HOUR, first_point=True)
    batch.contact_voided(e.enquiry_id, at=TUESDAY + 5 * HOUR)
    assert _net(batch) == {}
    assert not [step for step in batch.places if step.subject_id == e.enquiry_id]
    assert {s.step for s in batch.dropped_places} == {"opened", "resolved"}


def test_a_corrected_complaint_moves_its_receipt_day_and_every_steps_labels() -> None:
    batch = ledger()
    c = Complaint(complaint_id=uuid4(), channel="email", service_area=AREA)
    batch.complaint_received(c, at=TUESDAY, stage="stage_1")
    batch.complaint_decided(c, at=TUESDAY + 20 * DAY, stage="stage_1", outcome="upheld")
    batch.contact_corrected(
        Correction(
            subject_id=c.complaint_id,
            received_at=TUESDAY - 5 * DAY,
            channel="letter",
            service_area="housing",
        )
    )

    def on(day: date) -> ComplaintDayKey:
        return ComplaintDayKey(day=day, channel="letter", service_area="housing", stage="stage_1")

    assert _net(batch) == {
        on(date(2019, 5, 30)): ComplaintDayCounts(received=1),
        on(date(2019, 6, 24)): ComplaintDayCounts(decided=1, upheld=1),
    }
    batch.contact_voided(c.complaint_id, at=TUESDAY + 30 * DAY)
    assert _net(batch) == {}


def test_a_met_clock_withdrawn_by_a_correction_counts_again_where_it_is_decided() -> None:
    batch = ledger()
    c = clock(TUESDAY)
    batch.clock_met(c, corrects_breach=False)
    batch.clock_withdrawn(c)
    moved = Clock(**{**_values(c), "due_at": datetime(2019, 7, 1, 16, tzinfo=UTC)})
    batch.clock_breached(moved, breached_at=moved.due_at, stopped_at=TUESDAY + 40 * DAY)
    assert _net(batch) == {deadlines_on(date(2019, 7, 1)): SlaDayCounts(breached=1)}
