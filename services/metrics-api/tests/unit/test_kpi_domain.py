"""The pure KPI rules: periods, percentiles from the wait histogram, red/amber/green, targets."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from metrics_api.kpis.domain import (
    Direction,
    Interval,
    PeriodError,
    Rag,
    change_percent,
    cost,
    date_range,
    mean,
    parse_period,
    percent,
    percentile,
    previous_period,
    rag,
    slices,
    target_for,
)
from metrics_api.readmodel.domain import Tally, local_day, wait_bucket, within

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


def test_tally_adds_and_keeps_peaks() -> None:
    tally = Tally()
    tally.add("call_day", ("k",), answered=1, wait_seconds_sum=10)
    tally.add("call_day", ("k",), answered=1, wait_seconds_sum=5)
    tally.peak("call_day", ("k",), "wait_seconds_max", 10)
    tally.peak("call_day", ("k",), "wait_seconds_max", 5)
    [(key, sums, peaks)] = tally.rows("call_day")
    assert (key, sums, peaks) == (
        ("k",),
        {"answered": 2, "wait_seconds_sum": 15},
        {"wait_seconds_max": 10},
    )


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
