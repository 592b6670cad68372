"""The pure KPI rules: periods, percentiles from the wait histogram, red/amber/green, targets."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from metrics_api.kpis.domain import (
    Breakdown,
    CallTotals,
    ComplaintTotals,
    Compliance,
    Direction,
    EnquiryTotals,
    FeedbackTotals,
    Figures,
    Interval,
    Measure,
    PeriodError,
    Rag,
    SlaTotals,
    VisitTotals,
    breakdown,
    call_waits,
    change_percent,
    channel_mix,
    compliance_by_commitment,
    contacts_by_channel,
    cost,
    date_range,
    due_window,
    enquiries_of,
    mean,
    overdue_seconds,
    parse_period,
    percent,
    percentile,
    previous_period,
    rag,
    score_card,
    scorecard_measures,
    service_level,
    slices,
    target_for,
)
from metrics_api.readmodel.domain import local_day, wait_bucket, within

LONDON = ZoneInfo("Europe/London")


def test_financial_years_and_quarters() -> None:
    year = parse_period("2026-27")
    assert (year.start, year.end, year.kind, year.days) == (
        date(2026, 4, 1),
        date(2027, 3, 31),
        "financial_year",
        365,
    )
    assert parse_period("2027-28").days == 366  # February 2028 has 29 days
    q1 = parse_period("2026-27-Q1")
    assert (q1.start, q1.end) == (date(2026, 4, 1), date(2026, 6, 30))
    q4 = parse_period("2026-27-Q4")
    assert (q4.start, q4.end, q4.financial_year) == (date(2027, 1, 1), date(2027, 3, 31), "2026-27")
    assert parse_period("1999-00").end == date(2000, 3, 31)


@pytest.mark.parametrize("text", ["2026-28", "2026", "26-27", "2026-27-Q0", "2026-27-Q5", ""])
def test_periods_that_are_not_financial_years(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_period(text)


def test_previous_periods() -> None:
    assert previous_period(parse_period("2026-27")).label == "2025-26"
    assert previous_period(parse_period("2026-27-Q1")).label == "2025-26-Q4"
    assert previous_period(parse_period("2026-27-Q3")).label == "2026-27-Q2"
    week = previous_period(date_range(date(2026, 5, 8), date(2026, 5, 14)))
    assert (week.start, week.end) == (date(2026, 5, 1), date(2026, 5, 7))
    with pytest.raises(PeriodError):
        date_range(date(2026, 5, 2), date(2026, 5, 1))


def test_slices_by_month_are_clipped_to_the_period() -> None:
    months = slices(date_range(date(2026, 1, 15), date(2026, 3, 10)), Interval.month)
    assert months == [
        (date(2026, 1, 15), date(2026, 1, 31)),
        (date(2026, 2, 1), date(2026, 2, 28)),
        (date(2026, 3, 1), date(2026, 3, 10)),
    ]
    assert len(slices(parse_period("2026-27"), Interval.day)) == 365
    assert slices(parse_period("2026-27"), Interval.none) == [(date(2026, 4, 1), date(2027, 3, 31))]


def test_local_days_follow_british_summer_time() -> None:
    # 31 March 2027 23:30 UTC is 1 April 00:30 BST: the next financial year.
    assert local_day(datetime(2027, 3, 31, 23, 30, tzinfo=UTC), LONDON) == date(2027, 4, 1)
    assert local_day(datetime(2027, 3, 31, 22, 59, tzinfo=UTC), LONDON) == date(2027, 3, 31)
    # In winter, UTC and local dates agree.
    assert local_day(datetime(2026, 12, 31, 23, 30, tzinfo=UTC), LONDON) == date(2026, 12, 31)
    # 25 October 2026 00:30 UTC is 01:30 BST, before the clocks go back.
    assert local_day(datetime(2026, 10, 24, 23, 30, tzinfo=UTC), LONDON) == date(2026, 10, 25)


def test_wait_buckets_and_targets() -> None:
    assert [wait_bucket(w) for w in (0, 0.9, 15, 15.5, 599.99, 600, 3600)] == [
        0,
        0,
        15,
        15,
        599,
        600,
        600,
    ]
    assert within(15, 15) and not within(15.01, 15)


def test_percentiles_interpolate_between_ranks() -> None:
    histogram = {1: 1, 2: 1, 3: 1, 4: 1}
    assert percentile(histogram, 0.5) == 2.5
    assert percentile(histogram, 0.9) == 3.7  # 3 + 0.7 x (4 - 3)
    assert percentile({30: 3}, 0.5) == 30.0
    assert percentile({}, 0.5) is None
    # The overflow bucket: the last rank is the known maximum.
    assert percentile({10: 1, 600: 1}, 1.0, maximum=900.0) == 900.0
    assert percentile({10: 1, 600: 2}, 0.5, maximum=900.0) == 600.0


def test_red_amber_green_respects_direction() -> None:
    up, down = Direction.higher_is_better, Direction.lower_is_better
    assert rag(42.0, 42.0, up, 5) is Rag.green
    assert rag(39.9, 42.0, up, 5) is Rag.amber  # 42 - 2.1 = 39.9
    assert rag(39.8, 42.0, up, 5) is Rag.red
    assert rag(90.0, 90.0, down, 5) is Rag.green
    assert rag(94.5, 90.0, down, 5) is Rag.amber
    assert rag(94.6, 90.0, down, 5) is Rag.red
    assert rag(None, 90.0, down, 5) is Rag.no_data
    assert rag(10.0, None, down, 5) is Rag.no_target


def test_targets_carry_forward_from_the_last_year_set() -> None:
    targets = {"2025-26": 41.0, "2026-27": 42.0, "2028-29": 44.0}
    assert target_for(targets, "2026-27") == (42.0, "2026-27")
    assert target_for(targets, "2027-28") == (42.0, "2026-27")
    assert target_for(targets, "2030-31") == (44.0, "2028-29")
    assert target_for(targets, "2024-25") == (None, None)


def test_rates_costs_and_shift() -> None:
    assert percent(1, 3) == 33.33
    assert percent(1, 0) is None
    assert mean(1315, 14) == 93.93
    assert cost(2896, 9.57) == 27714.72
    # St Albans: face-to-face visits from 4,568 to 2,896 is down 36.6%.
    assert change_percent(2896, 4568) == -36.6
    assert change_percent(5, 0) is None


def test_month_split_reads_whole_months_from_the_roll_ups() -> None:
    from metrics_api.kpis.domain import merge_totals, month_split

    assert month_split(date(2026, 4, 1), date(2027, 3, 31)) == (
        [],
        (date(2026, 4, 1), date(2027, 3, 1)),
    )
    assert month_split(date(2026, 4, 15), date(2026, 6, 10)) == (
        [(date(2026, 4, 15), date(2026, 4, 30)), (date(2026, 6, 1), date(2026, 6, 10))],
        (date(2026, 5, 1), date(2026, 5, 1)),
    )
    assert month_split(date(2026, 4, 2), date(2026, 4, 20)) == (
        [(date(2026, 4, 2), date(2026, 4, 20))],
        None,
    )
    assert month_split(date(2028, 2, 1), date(2028, 2, 29)) == (
        [],
        (date(2028, 2, 1), date(2028, 2, 1)),
    )
    merged = merge_totals(
        [
            [{"channel": "phone", "answered": 2, "wait_seconds_max": 9.0}],
            [
                {"channel": "phone", "answered": 3, "wait_seconds_max": 4.0},
                {"channel": "standby", "answered": 1, "wait_seconds_max": 1.0},
            ],
        ],
        ["channel"],
    )
    assert merged == [
        {"channel": "phone", "answered": 5, "wait_seconds_max": 9.0},
        {"channel": "standby", "answered": 1, "wait_seconds_max": 1.0},
    ]


# -- the metrics from the read models' totals, by hand-worked examples -----------------------------


def test_call_waits_service_level_and_short_abandons() -> None:
    # In office hours: calls answered after 10 s, 20 s and 40 s (the target is 15 s: one within)
    # and two abandoned, after 4 s (a short abandon) and 30 s. Out of hours: one answered after
    # 5 s, which the service level is not of.
    #   offered 6, answered 4, abandoned 2 (1 short): abandonment 2/6 = 33.33%
    #   service level: 1 within / (3 answered + 2 abandoned - 1 short) = 1/4 = 25%
    #   waits 10, 20, 40, 5: mean 75/4 = 18.75 s; sorted 5, 10, 20, 40:
    #   median at rank 1.5 = 10 + 0.5 x (20 - 10) = 15 s; 90th at rank 2.7 = 20 + 0.7 x 20 = 34 s
    office = CallTotals(
        in_office_hours=True,
        offered=5,
        answered=3,
        answered_within_target=1,
        abandoned=2,
        short_abandoned=1,
        wait_seconds_sum=70.0,
        wait_seconds_max=40.0,
    )
    evening = CallTotals(
        in_office_hours=False,
        offered=1,
        answered=1,
        answered_within_target=1,
        wait_seconds_sum=5.0,
        wait_seconds_max=5.0,
    )
    waits = call_waits([office, evening], {10: 1, 20: 1, 40: 1, 5: 1})
    assert (waits.offered, waits.answered, waits.abandoned, waits.short_abandoned) == (6, 4, 2, 1)
    assert waits.abandonment_rate_percent == 33.33
    assert (waits.answered_within_target, waits.service_level_calls) == (1, 4)
    assert waits.service_level_percent == 25.0
    assert (waits.mean_wait_seconds, waits.median_wait_seconds) == (18.75, 15.0)
    assert (waits.p90_wait_seconds, waits.max_wait_seconds) == (34.0, 40.0)
    # A slice whose one call was abandoned after 20 s: no wait of an answered call to speak
    # of (its row's longest reads 0), and a service level of 0 within / 1 call = 0%.
    abandoned = CallTotals(in_office_hours=True, offered=1, abandoned=1)
    nobody = call_waits([abandoned], {})
    assert (nobody.max_wait_seconds, nobody.mean_wait_seconds, nobody.median_wait_seconds) == (
        None,
        None,
        None,
    )
    assert nobody.service_level_percent == 0.0
    # The same three answered calls alone: 1 of 3 within 15 s, 33.33%.
    three = CallTotals(in_office_hours=True, answered=3, answered_within_target=1)
    assert service_level([three]) == Measure(1, 3, 33.33)


def _district() -> Figures:
    """A period's figures, worked through in the tests below."""
    return Figures(
        enquiries=[
            EnquiryTotals(channel="phone", opened=10, resolved=10, first_point=9),
            EnquiryTotals(channel="portal", opened=5, resolved=4, first_point=3),
            EnquiryTotals(channel="email", opened=5, resolved=5, first_point=2),
        ],
        feedback=[
            FeedbackTotals(channel="portal", responses=3, score_sum=12),
            FeedbackTotals(channel="web_form", responses=1, score_sum=4),
            FeedbackTotals(channel="phone", responses=2, score_sum=10),
        ],
        complaints=[
            ComplaintTotals(channel="email", stage="stage_1", received=6, decided=4, upheld=1),
            ComplaintTotals(channel="email", stage="stage_2", extended=1, decided=3, upheld=2),
        ],
        calls=[
            CallTotals(
                channel="phone",
                in_office_hours=True,
                offered=5,
                answered=4,
                answered_within_target=3,
                abandoned=1,
                wait_seconds_sum=360.0,
                wait_seconds_max=620.0,
            ),
            CallTotals(
                channel="standby",
                in_office_hours=False,
                offered=2,
                answered=2,
                wait_seconds_sum=1000.0,
                wait_seconds_max=900.0,
            ),
        ],
        sla=[SlaTotals(channel="email", met=19, breached=1)],
        visits=[
            VisitTotals(arrived=3, attended=2, attended_within_target=1, wait_seconds_sum=400.004)
        ],
    )


def test_the_score_card_from_a_periods_figures() -> None:
    # Calls are phone; online is portal and web_form. Targets set for 2026-27 carry to 2027-28;
    # the amber band is 5% of the target.
    #   CX02  (12 + 4) / (3 + 1) = 4.0 against 4.2: misses by 0.2 <= 0.21, amber
    #   CX03  5 portal / 20 enquiries = 25% against 41%: misses by 16 > 2.05, red
    #   CX04  9 / 10 phone enquiries at first point = 90% against 90%: green
    #   CX04-all  (9 + 3 + 2) / 20 = 70%, no target
    #   CX06  stage one 1/4 = 25% against 35% (lower is better): green; stage two 2/3 = 66.67%
    #         against 32%: red; the ombudsman decided none: no data
    #   call-wait-mean  360 s / 4 phone calls = 90 s against 90 s: green (standby is not a call
    #         channel here); call-wait-max  620 s against 600 s: over by 20 <= 30, amber
    #   SLA  19 / (19 + 1) = 95%, no target
    figures = _district()
    measures = scorecard_measures(
        figures, call_channels=("phone",), online_channels=("portal", "web_form")
    )
    targets = {
        "CX02": {"2026-27": 4.2},
        "CX03": {"2026-27": 41.0},
        "CX04": {"2026-27": 90.0},
        "CX06-stage_1": {"2026-27": 35.0},
        "CX06-stage_2": {"2026-27": 32.0},
        "CX06-ombudsman": {"2026-27": 30.0},
        "call-wait-mean": {"2026-27": 90.0},
        "call-wait-max": {"2026-27": 600.0},
    }
    scores = score_card(measures, targets=targets, year="2027-28", amber_band_percent=5)
    found = {s.kpi.kpi: (s.measure, s.status) for s in scores}
    assert found == {
        "CX02": (Measure(16, 4, 4.0), Rag.amber),
        "CX03": (Measure(5, 20, 25.0), Rag.red),
        "CX04": (Measure(9, 10, 90.0), Rag.green),
        "CX04-all": (Measure(14, 20, 70.0), Rag.no_target),
        "CX06-stage_1": (Measure(1, 4, 25.0), Rag.green),
        "CX06-stage_2": (Measure(2, 3, 66.67), Rag.red),
        "CX06-ombudsman": (Measure(0, 0, None), Rag.no_data),
        "call-wait-mean": (Measure(360.0, 4, 90.0), Rag.green),
        "call-wait-max": (Measure(None, 4, 620.0), Rag.amber),
        "SLA": (Measure(19, 20, 95.0), Rag.no_target),
    }
    assert {s.target_year for s in scores} == {"2026-27", None}


def test_a_breakdown_by_channel_keeps_what_each_channel_has() -> None:
    # The same figures by channel. Each channel's rows are of its own figures; a rate with
    # nothing to divide by is left out, a count is not.
    #   email: CX04-all 2/5 = 40%; SLA 95%; stage one 1/4 = 25%, stage two 2/3 = 66.67%;
    #          6 complaints received, 1 extension; no CX02 (email is not online)
    #   face_to_face (it had visitors): seen within 5 minutes 1/2 = 50%, mean wait
    #          400.004 s / 2 = 200 s, its total shown to the hundredth (400 s)
    #   phone: CX04-all 9/10 = 90% (CX04 is left out: for a channel it is CX04-all); calls
    #          offered 5, abandoned 1/5 = 20%, service level 3/(4 + 1 - 0) = 60%, mean wait
    #          90 s; 2 scores given, but phone is not online: no CX02
    #   portal: CX04-all 3/5 = 60%, CX02 12/3 = 4.0 (no CX03: a channel's share is the mix)
    #   standby: calls offered 2, abandonment 0/2 = 0%, mean wait 500 s, longest 900 s; no
    #          service level (out of hours only: 0/0)
    #   web_form: CX02 4/1 = 4.0
    rows = breakdown(
        _district(),
        Breakdown.channel,
        call_channels=("phone",),
        online_channels=("portal", "web_form"),
    )
    counts = ["complaints-received", "complaint-extensions", "feedback-responses"]
    assert {channel: list(kpis) for channel, kpis in rows.items()} == {
        "email": ["CX04-all", "SLA", "CX06-stage_1", "CX06-stage_2", *counts],
        "face_to_face": [*counts, "reception-attend", "visit-wait-mean"],
        "phone": [
            "CX04-all",
            "call-wait-mean",
            "call-wait-max",
            "service-level",
            "abandonment-rate",
            "calls-offered",
            *counts,
        ],
        "portal": ["CX02", "CX04-all", *counts],
        "standby": [
            "call-wait-mean",
            "call-wait-max",
            "abandonment-rate",
            "calls-offered",
            *counts,
        ],
        "web_form": ["CX02", *counts],
    }
    assert rows["email"]["CX04-all"].value == 40.0
    assert rows["email"]["complaints-received"] == Measure(None, None, 6)
    assert rows["face_to_face"]["reception-attend"].value == 50.0
    assert rows["face_to_face"]["visit-wait-mean"] == Measure(400.0, 2, 200.0)
    assert rows["phone"]["service-level"] == Measure(3, 5, 60.0)
    assert rows["phone"]["calls-offered"] == Measure(5, None, 5)
    assert rows["standby"]["call-wait-mean"].value == 500.0
    assert rows["portal"]["CX02"].value == 4.0
    # Whole, every metric is there, for every channel together.
    [whole] = breakdown(
        _district(), Breakdown.none, call_channels=("phone",), online_channels=("portal",)
    ).values()
    assert whole["abandonment-rate"] == Measure(1, 5, 20.0)
    assert whole["CX02"] == Measure(12, 3, 4.0)


def test_compliance_per_commitment_by_the_deadlines_month() -> None:
    # Deadlines in April 2026: email-respond met 3, breached 1; in May: complaint-respond met 1.
    #   By month: April email-respond 3/4 = 75% and all 75%; May complaint-respond 100% and all
    #   100% (a commitment with no deadline in a month has no row for it).
    #   Whole: complaint-respond 100%, email-respond 75%, all 4/5 = 80%.
    rows = [
        SlaTotals(due_on=date(2026, 4, 10), commitment="email-respond", met=3, breached=1),
        SlaTotals(due_on=date(2026, 5, 20), commitment="complaint-respond", met=1),
    ]
    spring = date_range(date(2026, 4, 1), date(2026, 5, 31))
    april = {"start": date(2026, 4, 1), "end": date(2026, 4, 30)}
    may = {"start": date(2026, 5, 1), "end": date(2026, 5, 31)}
    by_month = compliance_by_commitment(rows, spring, Interval.month)
    assert by_month == [
        Compliance(commitment="email-respond", **april, met=3, breached=1),
        Compliance(commitment="all", **april, met=3, breached=1),
        Compliance(commitment="complaint-respond", **may, met=1, breached=0),
        Compliance(commitment="all", **may, met=1, breached=0),
    ]
    assert [c.percent for c in by_month] == [75.0, 75.0, 100.0, 100.0]
    # For the whole period, each row needs its slice's first day, as the service gives it.
    whole = [
        SlaTotals(due_on=spring.start, commitment=r.commitment, met=r.met, breached=r.breached)
        for r in rows
    ]
    found = compliance_by_commitment(whole, spring, Interval.none)
    assert [(c.commitment, c.met, c.breached, c.percent) for c in found] == [
        ("complaint-respond", 1, 0, 100.0),
        ("email-respond", 3, 1, 75.0),
        ("all", 4, 1, 80.0),
    ]


def test_channel_mix_cost_and_shift() -> None:
    # Contacts now (before): face to face 2,896 (4,568) at £9.57, telephone 10,000 (9,000) at
    # £2.90, portal 3,000 (1,000) at £0.13, chat 100 (none) with no unit cost.
    #   all 15,996 contacts: shares 18.1%, 62.52%, 18.75%, 0.63%
    #   cost £27,714.72 (£43,715.76), £29,000 (£26,100), £390 (£130), chat free
    #   shift -36.6% (St Albans' visits), +11.11%, +200%, chat none (nothing before)
    #   all: £57,104.72 (£69,945.76), 15,996 from 14,568: +9.8%
    mix = channel_mix(
        {"face_to_face": 2896, "phone": 10000, "portal": 3000, "chat": 100},
        {"face_to_face": 4568, "phone": 9000, "portal": 1000},
        {"face_to_face": 9.57, "phone": 2.90, "portal": 0.13},
    )
    assert [
        (r.channel, r.share_percent, r.cost, r.previous_cost, r.change_percent) for r in mix
    ] == [
        ("face_to_face", 18.1, 27714.72, 43715.76, -36.6),
        ("phone", 62.52, 29000.0, 26100.0, 11.11),
        ("portal", 18.75, 390.0, 130.0, 200.0),
        ("chat", 0.63, 0.0, 0.0, None),
        ("all", 100.0, 57104.72, 69945.76, 9.8),
    ]
    assert (mix[-1].contacts, mix[-1].previous_contacts, mix[-1].unit_cost) == (15996, 14568, None)


def test_contacts_are_calls_visits_or_enquiries_by_channel() -> None:
    # Phone and standby count calls offered (not phone enquiries); face to face counts
    # visitors; every other channel its enquiries; a channel with none counts 0.
    contacts = contacts_by_channel(_district().enquiries, _district().calls, _district().visits)
    assert {channel: n for channel, n in contacts.items() if n} == {
        "phone": 5,
        "standby": 2,
        "face_to_face": 3,
        "portal": 5,
        "email": 5,
    }
    assert contacts["letter"] == 0


def test_a_channel_of_a_newer_producer_counts_its_enquiries() -> None:
    # During a rolling upgrade the read model counts a channel this build does not know yet.
    enquiries = [*_district().enquiries, EnquiryTotals(channel="whatsapp", opened=3)]
    contacts = contacts_by_channel(enquiries, _district().calls, _district().visits)
    assert contacts["whatsapp"] == 3 and list(contacts)[-1] == "whatsapp"
    whatsapp, every = channel_mix(contacts, {}, {"email": 1.7})[-2:]
    assert (whatsapp.channel, whatsapp.contacts, whatsapp.unit_cost, whatsapp.cost) == (
        "whatsapp",
        3,
        None,
        0.0,
    )
    assert every.contacts == sum(contacts.values())


def test_the_all_row_of_the_channel_mix_has_every_channels_enquiries() -> None:
    # 120 by email and 30 by web form: the email row has 120, "all" has 150, phone (whose
    # contacts are calls, not enquiries) none.
    opened: dict[str | None, int] = {"email": 120, "web_form": 30}
    assert enquiries_of("email", opened) == 120
    assert enquiries_of("all", opened) == 150
    assert enquiries_of("phone", opened) == 0


def test_the_deadlines_in_a_period_are_those_of_its_local_dates() -> None:
    # 2026-27's first quarter is 1 April to 30 June, both in BST: deadlines from 23:00 UTC on
    # 31 March up to 23:00 UTC on 30 June.
    start, end = due_window(parse_period("2026-27-Q1"), LONDON)
    assert start == datetime(2026, 3, 31, 23, tzinfo=UTC)
    assert end == datetime(2026, 6, 30, 23, tzinfo=UTC)
    # The third quarter ends in GMT: up to midnight UTC on 1 January.
    assert due_window(parse_period("2026-27-Q3"), LONDON)[1] == datetime(2027, 1, 1, tzinfo=UTC)


def test_a_breach_is_overdue_by_the_time_since_its_deadline_to_the_millisecond() -> None:
    # Due at 09:00, asked at 10:30:00.12345: 5400.123 seconds overdue.
    due = datetime(2026, 6, 1, 9, tzinfo=UTC)
    assert overdue_seconds(due, datetime(2026, 6, 1, 10, 30, 0, 123450, tzinfo=UTC)) == 5400.123
