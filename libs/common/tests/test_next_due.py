"""A contact's next due commitment, from the policy and the contact's own state (no I/O)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from contact_common.calendar import WorkingCalendar
from contact_common.commitments import (
    DueStatus,
    EnquiryState,
    enquiry_clocks,
    load_policy,
    next_due,
)
from contact_common.commitments.complaints import StageState, stage_clocks
from contact_common.events import Channel, ComplaintStage

CALENDAR = WorkingCalendar()
DEFAULT = load_policy("default")
CODE = load_policy("complaint-handling-code-2024")
# Monday 2 March 2026, 10:00 GMT: acknowledge by Tuesday 17:00, respond by Thursday 17:00.
RECEIVED = datetime(2026, 3, 2, 10, tzinfo=UTC)


def _email(**steps: object) -> EnquiryState:
    values: dict[str, object] = {
        "channel": Channel.email,
        "received_at": RECEIVED,
        "acknowledged_at": None,
        "responded_at": None,
        "resolved_at": None,
        "reopened_at": None,
        "reopen_count": 0,
    }
    return EnquiryState(**{**values, **steps})  # type: ignore[arg-type]


def _due(state: EnquiryState, now: datetime):  # type: ignore[no-untyped-def]
    return next_due(enquiry_clocks(DEFAULT, CALENDAR, state), calendar=CALENDAR, now=now)


def test_an_email_is_due_for_acknowledgement_first_then_a_response() -> None:
    due = _due(_email(), now=RECEIVED)
    assert (due.commitment, due.due_at, due.status) == (
        "email-acknowledge",
        datetime(2026, 3, 3, 17, tzinfo=UTC),
        DueStatus.open,
    )
    # At risk once 75% of its office hours have gone: of 7 h + 8 h, 11.25 h (Tuesday 13:15).
    assert due.at_risk_at == datetime(2026, 3, 3, 13, 15, tzinfo=UTC)
    assert _due(_email(), now=due.at_risk_at).status is DueStatus.at_risk
    assert _due(_email(), now=due.due_at + timedelta(seconds=1)).status is DueStatus.breached

    acknowledged = _email(acknowledged_at=RECEIVED + timedelta(hours=1))
    due = _due(acknowledged, now=RECEIVED)
    assert (due.commitment, due.due_at) == ("email-respond", datetime(2026, 3, 5, 17, tzinfo=UTC))
    # A response stops both (it acknowledges too).
    assert _due(_email(responded_at=RECEIVED + timedelta(hours=2)), now=RECEIVED) is None


def test_a_reopened_enquiry_has_a_new_response_clock_only() -> None:
    reopened_at = datetime(2026, 3, 9, 16, 30, tzinfo=UTC)  # Monday 16:30
    state = _email(
        acknowledged_at=RECEIVED + timedelta(hours=1), reopened_at=reopened_at, reopen_count=1
    )
    due = _due(state, now=reopened_at)
    assert (due.commitment, due.due_at) == ("email-respond", datetime(2026, 3, 12, 17, tzinfo=UTC))
    # The first opening's acknowledgement does not stop the new response clock; a reply does.
    answered = _email(reopened_at=reopened_at, reopen_count=1, responded_at=reopened_at)
    assert _due(answered, now=reopened_at) is None


def test_enquiries_on_a_channel_with_no_commitment_have_none() -> None:
    assert _due(_email(channel=Channel.phone), now=RECEIVED) is None


def test_a_complaint_stage_under_the_code_responds_from_its_acknowledgement() -> None:
    stage = StageState(
        stage=ComplaintStage.stage_1,
        channel=Channel.email,
        started_at=RECEIVED,
        acknowledge_due_at=datetime(2026, 3, 9, 17, tzinfo=UTC),
        acknowledged_at=None,
        due_at=None,
        responded_at=None,
    )
    due = next_due(stage_clocks(CODE, stage), calendar=CALENDAR, now=RECEIVED)
    assert (due.commitment, due.due_at) == ("complaint-acknowledge", stage.acknowledge_due_at)
    acknowledged_at = datetime(2026, 3, 4, 11, tzinfo=UTC)
    respond_by = datetime(2026, 3, 18, 17, tzinfo=UTC)
    acknowledged = replace(stage, acknowledged_at=acknowledged_at, due_at=respond_by)
    due = next_due(stage_clocks(CODE, acknowledged), calendar=CALENDAR, now=acknowledged_at)
    assert (due.commitment, due.due_at, due.status) == (
        "complaint-respond",
        respond_by,
        DueStatus.open,
    )
