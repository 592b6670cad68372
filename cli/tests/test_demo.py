"""The demo year: deterministic, proportional to scale, in the right hours, near the seeds."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import date

import pytest

from contactctl.demo import (
    Call,
    Complaint,
    DemoYear,
    Enquiry,
    StandbyCall,
    Visit,
    financial_year,
    summarise,
)


@pytest.fixture(scope="module")
def year() -> DemoYear:
    return DemoYear("2025-26", scale=0.3, seed=11)


@pytest.fixture(scope="module")
def contacts(year: DemoYear) -> list:
    return list(year)


def test_financial_year_runs_april_to_march() -> None:
    assert financial_year("2025-26") == (date(2025, 4, 1), date(2026, 3, 31))
    for bad in ("2025-27", "2025", "25-26", "2025/26"):
        with pytest.raises(ValueError, match="financial year"):
            financial_year(bad)


def test_the_same_seed_gives_the_same_contacts_and_another_seed_others() -> None:
    first = list(DemoYear(scale=0.05, seed=3, fraction=0.1))
    again = list(DemoYear(scale=0.05, seed=3, fraction=0.1))
    other = list(DemoYear(scale=0.05, seed=4, fraction=0.1))
    assert len(first) > 300
    assert first == again
    assert first != other


def test_a_fraction_is_the_start_of_the_same_year() -> None:
    whole = DemoYear(scale=0.05, seed=3)
    part = DemoYear(scale=0.05, seed=3, fraction=0.1)
    assert part.days == whole.days[: len(part.days)]
    assert list(part) == list(itertools.islice(whole, len(list(part))))


def test_volumes_are_proportional_to_scale() -> None:
    small = summarise(DemoYear(scale=0.05, seed=5))
    large = summarise(DemoYear(scale=0.2, seed=5))
    assert large.calls / small.calls == pytest.approx(4, rel=0.05)
    enquiries = sum(large.enquiries.values()) / sum(small.enquiries.values())
    assert enquiries == pytest.approx(4, rel=0.05)
    # Hundreds, not thousands, at these scales: Poisson noise is larger.
    assert large.visits / small.visits == pytest.approx(4, rel=0.2)
    assert large.standby / small.standby == pytest.approx(4, rel=0.25)
    assert small.calls == pytest.approx(117_643 * 0.05, rel=0.05)
    assert DemoYear(scale=0.2, seed=5).expected_contacts() == pytest.approx(
        large.contacts, rel=0.03
    )


def test_volumes_at_a_district_follow_the_seeds(year: DemoYear, contacts: list) -> None:
    summary = summarise(year)
    assert summary.calls == pytest.approx(117_643 * 0.3, rel=0.03)
    assert summary.enquiries["email"] == pytest.approx(10_653 * 0.3, rel=0.06)
    assert summary.enquiries["web_form"] == pytest.approx(9_971 * 0.3, rel=0.06)
    assert 0.39 <= summary.portal_share <= 0.43  # CX03 target 41%
    assert 0.87 <= summary.first_point_rate <= 0.92  # about 90%
    phone_first = summary.first_point["phone"] / summary.enquiries["phone"]
    assert 0.89 <= phone_first <= 0.95
    assert 82 <= summary.mean_wait <= 98  # mean wait about 1m30s
    assert 0.04 <= summary.abandoned / summary.calls <= 0.09
    assert 0.2 <= summary.short_abandoned / summary.abandoned <= 0.6
    assert summary.over_ten_minutes <= 0.001 * summary.answered  # a few, never many
    assert 4.1 <= summary.feedback_mean <= 4.35  # CX02 target 4.2
    assert set(summary.complaint_stages) == {1, 2, 3}


def test_calls_and_visits_only_in_office_hours_on_working_days(
    year: DemoYear, contacts: list
) -> None:
    calendar = year.calendar
    office = [c for c in contacts if isinstance(c, Call | Visit)]
    assert len(office) > 30_000
    assert all(calendar.in_office_hours(c.starts_at) for c in office)
    letters = [c for c in contacts if isinstance(c, Enquiry) and c.channel == "letter"]
    assert all(calendar.in_office_hours(c.received_at) for c in letters)
    online = [c for c in contacts if isinstance(c, Enquiry) and c.channel in ("email", "portal")]
    assert sum(not calendar.in_office_hours(c.received_at) for c in online) > 0.2 * len(online)


def test_standby_calls_only_out_of_hours(year: DemoYear, contacts: list) -> None:
    standby = [c for c in contacts if isinstance(c, StandbyCall)]
    assert len(standby) > 500
    assert not any(year.calendar.in_office_hours(c.call_started_at) for c in standby)
    assert any(not year.calendar.is_working_day(c.call_started_at.date()) for c in standby)
    follow_ups = [c for c in standby if c.requires_follow_up]
    assert follow_ups and all(c.follow_up[-1].action == "resolve" for c in follow_ups)


def test_seasons_council_tax_in_march_and_april(year: DemoYear, contacts: list) -> None:
    months: Counter[tuple[int, str]] = Counter()
    totals: Counter[int] = Counter()
    for c in contacts:
        if isinstance(c, Call):
            month = c.offered_at.astimezone(year.zone).month
            months[(month, c.service_area)] += 1
            totals[month] += 1
    assert set(totals) == set(range(1, 13))

    def share(month: int, area: str) -> float:
        return months[(month, area)] / totals[month]

    assert share(3, "council_tax") > 1.5 * share(8, "council_tax")
    assert share(4, "waste") > 1.1 * share(9, "waste")  # garden waste renewals
    assert totals[3] > totals[8] and totals[12] < totals[1]


def test_steps_are_in_order_and_most_commitments_met(year: DemoYear, contacts: list) -> None:
    calendar = year.calendar
    met: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    enquiries = [c for c in contacts if isinstance(c, Enquiry)]
    enquiries += [c.enquiry for c in contacts if isinstance(c, Call | Visit) and c.enquiry]
    for enquiry in enquiries:
        times = [enquiry.received_at, *(step.at for step in enquiry.steps)]
        assert times == sorted(times)
        assert enquiry.steps[-1].action == "resolve"
        if enquiry.channel == "email":
            first = {}
            for step in enquiry.steps:
                first.setdefault(step.action, step.at)
            seen["email-acknowledge"] += 1
            met["email-acknowledge"] += first["acknowledge"] <= calendar.deadline(
                enquiry.received_at, 1
            )
            seen["email-respond"] += 1
            met["email-respond"] += first["respond"] <= calendar.deadline(enquiry.received_at, 3)
    for commitment in seen:
        assert 0.85 <= met[commitment] / seen[commitment] <= 0.96, commitment
    complaints = [c for c in contacts if isinstance(c, Complaint)]
    for complaint in complaints:
        times = [complaint.received_at, *(step.at for step in complaint.steps)]
        assert times == sorted(times)
        officers = [s.fields["officer"] for s in complaint.steps if s.action == "respond"]
        assert len(set(officers)) == len(officers)  # stage 2 is answered by another officer
    outcomes = Counter(
        s.fields["outcome"] for c in complaints for s in c.steps if s.action == "respond"
    )
    assert 0.2 <= outcomes["upheld"] / sum(outcomes.values()) <= 0.45  # CX06 target 35%


def test_no_real_personal_data(contacts: list) -> None:
    for c in contacts:
        customer = getattr(c, "customer", None)
        if customer:
            assert customer["name"].startswith("Resident ")
            assert customer["email"].endswith("@example.org")
