"""Rules of call and visit records, on plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from enquiry_api.calls.domain import call_times_problem, first_of_each, wait_seconds
from enquiry_api.visits.domain import VisitOutcome, outcome_of_repeat

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_a_call_is_answered_or_abandoned_never_both_nor_neither() -> None:
    both = call_times_problem(offered_at=T0, answered_at=T0, abandoned_at=T0, ended_at=None)
    neither = call_times_problem(offered_at=T0, answered_at=None, abandoned_at=None, ended_at=None)
    assert both is not None and neither is not None
    assert (
        call_times_problem(
            offered_at=T0, answered_at=T0 + timedelta(seconds=9), abandoned_at=None, ended_at=None
        )
        is None
    )


def test_call_times_must_be_in_order() -> None:
    early = call_times_problem(
        offered_at=T0, answered_at=T0 - timedelta(seconds=1), abandoned_at=None, ended_at=None
    )
    assert early == ("answered_at", "answered_at is before offered_at")
    ended = call_times_problem(
        offered_at=T0,
        answered_at=None,
        abandoned_at=T0 + timedelta(seconds=30),
        ended_at=T0 + timedelta(seconds=10),
    )
    assert ended == ("ended_at", "ended_at is before abandoned_at")


def test_wait_is_seconds_from_offer_to_answer_or_hang_up() -> None:
    assert wait_seconds(T0, T0 + timedelta(seconds=14, milliseconds=500)) == 14.5


def test_only_the_first_of_repeated_ids_counts() -> None:
    assert first_of_each(["a", "b", "a", "c", "b"]) == [True, True, False, True, False]


def test_a_repeated_visit_adds_attendance_once() -> None:
    assert outcome_of_repeat(known_attended=False, posted_attended=True) is VisitOutcome.attended
    assert outcome_of_repeat(known_attended=True, posted_attended=True) is VisitOutcome.duplicate
    assert outcome_of_repeat(known_attended=False, posted_attended=False) is VisitOutcome.duplicate
