"""The lifecycle rules of an enquiry, on plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from enquiry_api.enquiries.domain import (
    Action,
    EnquiryState,
    EnquiryStatus,
    TransitionRefused,
    allowed_actions,
    decode_cursor,
    encode_cursor,
    first_point_refusal,
    format_reference,
    is_hand_off,
    next_status,
    phone_digits,
    received_at_problem,
    step_time_problem,
)

S = EnquiryStatus
A = Action


def state(
    status: EnquiryStatus,
    *,
    acknowledged: bool = False,
    handed_off: bool = False,
    reopen_count: int = 0,
) -> EnquiryState:
    return EnquiryState(
        status=status, acknowledged=acknowledged, handed_off=handed_off, reopen_count=reopen_count
    )


@pytest.mark.parametrize(
    ("before", "action", "after"),
    [
        (state(S.open), A.acknowledge, S.acknowledged),
        (state(S.open), A.assign, S.assigned),
        (state(S.open), A.respond, S.responded),
        (state(S.open), A.resolve, S.resolved),
        (state(S.acknowledged, acknowledged=True), A.assign, S.assigned),
        (state(S.acknowledged, acknowledged=True), A.respond, S.responded),
        (state(S.acknowledged, acknowledged=True), A.resolve, S.resolved),
        # Assigned before anyone acknowledged it: acknowledging keeps it with its assignee.
        (state(S.assigned), A.acknowledge, S.assigned),
        (state(S.assigned, acknowledged=True), A.assign, S.assigned),
        (state(S.assigned, acknowledged=True), A.respond, S.responded),
        (state(S.assigned, acknowledged=True), A.resolve, S.resolved),
        # Assignment after a response keeps the response's status.
        (state(S.responded, acknowledged=True), A.assign, S.responded),
        (state(S.responded, acknowledged=True), A.resolve, S.resolved),
        (state(S.resolved, acknowledged=True), A.reopen, S.reopened),
        (state(S.reopened, acknowledged=True, reopen_count=1), A.respond, S.responded),
        (state(S.reopened, acknowledged=True, reopen_count=1), A.assign, S.assigned),
        (state(S.reopened, acknowledged=True, reopen_count=1), A.resolve, S.resolved),
    ],
)
def test_allowed_steps_lead_to_their_status(
    before: EnquiryState, action: Action, after: EnquiryStatus
) -> None:
    assert next_status(before, action) is after
    assert action in allowed_actions(before)


@pytest.mark.parametrize(
    ("before", "action", "reason"),
    [
        (state(S.acknowledged, acknowledged=True), A.acknowledge, "already been acknowledged"),
        (state(S.responded, acknowledged=True), A.acknowledge, "already been acknowledged"),
        (state(S.responded, acknowledged=True), A.respond, "already been responded to"),
        (state(S.resolved, acknowledged=True), A.resolve, "it is resolved"),
        (state(S.resolved, acknowledged=True), A.respond, "it is resolved"),
        (state(S.resolved, acknowledged=True), A.assign, "it is resolved"),
        (state(S.resolved), A.acknowledge, "it is resolved"),
        (state(S.open), A.reopen, "it is open, not resolved"),
        (state(S.assigned), A.reopen, "it is assigned, not resolved"),
        (state(S.reopened, acknowledged=True, reopen_count=1), A.reopen, "not resolved"),
    ],
)
def test_refused_steps_say_why_and_what_is_allowed(
    before: EnquiryState, action: Action, reason: str
) -> None:
    with pytest.raises(TransitionRefused) as refused:
        next_status(before, action)
    assert reason in refused.value.message
    assert refused.value.status is before.status
    assert refused.value.allowed == allowed_actions(before)
    assert action not in refused.value.allowed
    for allowed in refused.value.allowed:
        assert allowed.value in refused.value.message


def test_a_resolved_enquiry_can_only_be_reopened() -> None:
    assert allowed_actions(state(S.resolved, acknowledged=True)) == [A.reopen]


def test_an_open_enquiry_can_do_anything_but_reopen() -> None:
    assert allowed_actions(state(S.open)) == [A.acknowledge, A.assign, A.respond, A.resolve]


def test_first_point_is_refused_after_a_hand_off_or_a_reopen() -> None:
    assert first_point_refusal(state(S.assigned, handed_off=False)) is None
    handed = first_point_refusal(state(S.assigned, handed_off=True))
    assert handed is not None and "handed off" in handed
    reopened = first_point_refusal(state(S.reopened, reopen_count=2))
    assert reopened is not None and "reopened (2 time(s))" in reopened
    both = first_point_refusal(state(S.reopened, handed_off=True, reopen_count=1))
    assert both is not None and "handed off" in both and "reopened" in both


def test_a_hand_off_is_an_assignment_to_another_service_area() -> None:
    assert is_hand_off("waste", "housing")
    assert not is_hand_off("waste", "waste")


NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)


def test_step_time_must_fall_between_the_previous_step_and_now() -> None:
    received = NOW - timedelta(days=2)
    last = NOW - timedelta(days=1)

    def problem(at: datetime) -> str | None:
        return step_time_problem(at, received_at=received, last_step_at=last, now=NOW, skew=SKEW)

    assert problem(NOW) is None
    assert problem(last) is None
    assert problem(NOW + timedelta(minutes=4)) is None  # clock skew
    assert "future" in (problem(NOW + timedelta(minutes=6)) or "")
    assert "before the enquiry was received" in (problem(received - timedelta(seconds=1)) or "")
    assert "previous step" in (problem(last - timedelta(seconds=1)) or "")


def test_received_at_may_be_in_the_past_but_not_the_future() -> None:
    assert received_at_problem(NOW - timedelta(days=30), now=NOW, skew=SKEW) is None
    assert received_at_problem(NOW + timedelta(hours=1), now=NOW, skew=SKEW) is not None


def test_references_count_per_year_with_six_digits() -> None:
    assert format_reference("ENQ", 2026, 123) == "ENQ-2026-000123"
    assert format_reference("ENQ", 2027, 1_234_567) == "ENQ-2027-1234567"


@pytest.mark.parametrize(
    ("phone", "digits"),
    [
        ("+44 7700 900123", "7700900123"),
        ("07700 900123", "7700900123"),
        ("(01632) 960-001", "1632960001"),
        ("", None),
        (None, None),
    ],
)
def test_phone_numbers_match_on_their_last_ten_digits(
    phone: str | None, digits: str | None
) -> None:
    assert phone_digits(phone) == digits


def test_a_cursor_round_trips_and_garbage_is_refused() -> None:
    cursor = encode_cursor(NOW, "0b8a0b5e-1d4c-4f0e-8f51-3a7d1c7c2f10")
    assert decode_cursor(cursor) == (NOW, "0b8a0b5e-1d4c-4f0e-8f51-3a7d1c7c2f10")
    assert decode_cursor("not-a-cursor!") is None
    assert decode_cursor(encode_cursor(NOW, "x")[:-3]) is None
