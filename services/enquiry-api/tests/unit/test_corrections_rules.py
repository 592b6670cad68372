"""The rules of correcting and voiding an enquiry, on plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from enquiry_api.enquiries.domain import (
    Action,
    EnquiryState,
    EnquiryStatus,
    Facts,
    TransitionRefused,
    allowed_actions,
    corrected_fields,
    corrected_received_at_problem,
    next_status,
    void_problem,
)

RECEIVED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)


def test_a_correction_changes_only_what_differs() -> None:
    current = Facts(received_at=RECEIVED, channel="email", service_area="waste")
    same = Facts(received_at=RECEIVED, channel="email", service_area="waste")
    assert corrected_fields(current, same) == {}
    moved = Facts(received_at=RECEIVED - timedelta(days=1), channel="letter", service_area="waste")
    assert corrected_fields(current, moved) == {
        "received_at": (RECEIVED, RECEIVED - timedelta(days=1)),
        "channel": ("email", "letter"),
    }


def test_a_corrected_receipt_is_not_in_the_future_nor_after_the_first_step() -> None:
    now = RECEIVED + timedelta(days=2)
    first = RECEIVED + timedelta(hours=3)
    ok = corrected_received_at_problem(first, first_step_at=first, now=now, skew=SKEW)
    assert ok is None
    assert corrected_received_at_problem(now + SKEW, first_step_at=None, now=now, skew=SKEW) is None
    late = corrected_received_at_problem(
        first + timedelta(seconds=1), first_step_at=first, now=now, skew=SKEW
    )
    assert late is not None and "after the first step" in late
    future = corrected_received_at_problem(
        now + SKEW + timedelta(seconds=1), first_step_at=None, now=now, skew=SKEW
    )
    assert future is not None and "future" in future


def test_only_a_duplicate_names_the_enquiry_it_repeats() -> None:
    assert void_problem(reason_code="duplicate", duplicate_of="b", contact_id="a") is None
    assert void_problem(reason_code="test", duplicate_of=None, contact_id="a") is None
    assert "only for reason_code duplicate" in str(
        void_problem(reason_code="test", duplicate_of="b", contact_id="a")
    )
    assert "itself" in str(void_problem(reason_code="duplicate", duplicate_of="a", contact_id="a"))


def test_a_voided_enquiry_allows_nothing_and_says_why() -> None:
    state = EnquiryState(
        status=EnquiryStatus.voided, acknowledged=False, handed_off=False, reopen_count=0
    )
    assert allowed_actions(state) == []
    for action in Action:
        try:
            next_status(state, action)
        except TransitionRefused as refused:
            assert "voided" in refused.message
            assert refused.allowed == []
        else:
            raise AssertionError(f"{action} was allowed on a voided enquiry")
