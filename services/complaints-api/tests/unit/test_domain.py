"""The escalation policy's pure rules: every (state, action) pair, extensions, windows, officers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from complaints_api.complaints import domain
from complaints_api.complaints.domain import (
    Action,
    ComplaintFacts,
    InvalidTime,
    Policy,
    PolicyRefusal,
    StageFacts,
    Status,
)
from contact_common.calendar import WorkingCalendar
from contact_common.commitments import load_policy, parse_policy
from contact_common.events import Channel, ComplaintStage

S1, S2, OMB = ComplaintStage.stage_1, ComplaintStage.stage_2, ComplaintStage.ombudsman
CALENDAR = WorkingCalendar()
POLICY = Policy(commitments=load_policy("default"))
CODE = Policy(commitments=load_policy("complaint-handling-code-2024"))

# The policy, stated again independently of the implementation's table.
EXPECTED: dict[tuple[ComplaintStage, Status, Action], tuple[ComplaintStage, Status]] = {
    (S1, Status.received, Action.acknowledge): (S1, Status.acknowledged),
    (S1, Status.received, Action.extend): (S1, Status.received),
    (S1, Status.acknowledged, Action.extend): (S1, Status.acknowledged),
    (S1, Status.acknowledged, Action.respond): (S1, Status.responded),
    (S1, Status.responded, Action.escalate): (S2, Status.received),
    (S1, Status.responded, Action.close): (S1, Status.closed),
    (S1, Status.closed, Action.escalate): (S2, Status.received),
    (S2, Status.received, Action.acknowledge): (S2, Status.acknowledged),
    (S2, Status.received, Action.extend): (S2, Status.received),
    (S2, Status.acknowledged, Action.extend): (S2, Status.acknowledged),
    (S2, Status.acknowledged, Action.respond): (S2, Status.responded),
    (S2, Status.responded, Action.escalate): (OMB, Status.referred),
    (S2, Status.responded, Action.close): (S2, Status.closed),
    (S2, Status.closed, Action.escalate): (OMB, Status.referred),
    (OMB, Status.referred, Action.ombudsman_decision): (OMB, Status.closed),
}
STATES = [
    (S1, Status.received),
    (S1, Status.acknowledged),
    (S1, Status.responded),
    (S1, Status.closed),
    (S2, Status.received),
    (S2, Status.acknowledged),
    (S2, Status.responded),
    (S2, Status.closed),
    (OMB, Status.referred),
    (OMB, Status.closed),
    # Voided at any stage: nothing further.
    (S1, Status.voided),
    (S2, Status.voided),
    (OMB, Status.voided),
]

# Monday 2 March 2026, 10:00 London (GMT): an ordinary working week follows.
RECEIVED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_the_table_has_exactly_the_reachable_states() -> None:
    assert set(domain.TRANSITIONS) == set(STATES)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize(("stage", "status"), STATES)
def test_every_state_and_action(stage: ComplaintStage, status: Status, action: Action) -> None:
    expected = EXPECTED.get((stage, status, action))
    if expected is not None:
        assert domain.next_state(stage, status, action) == expected
        return
    with pytest.raises(PolicyRefusal) as refused:
        domain.next_state(stage, status, action)
    allowed = [a for (st, su, a) in EXPECTED if (st, su) == (stage, status)]
    assert sorted(refused.value.allowed_next) == sorted(allowed)
    assert refused.value.problem == "illegal-transition"
    detail = refused.value.detail
    assert domain.STAGE_NAMES[stage] in detail and status.value in detail
    assert "because" in detail and "Allowed next:" in detail
    if not allowed:
        assert detail.endswith("Allowed next: nothing.")
    for action_allowed in allowed:
        assert action_allowed.value in detail


def test_an_impossible_state_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="not a state"):
        domain.next_state(OMB, Status.acknowledged, Action.respond)


def test_responding_before_acknowledging_says_to_acknowledge_first() -> None:
    with pytest.raises(PolicyRefusal, match="acknowledge it first"):
        domain.next_state(S1, Status.received, Action.respond)


def _facts(
    stage: ComplaintStage = S1,
    status: Status = Status.received,
    **stages: StageFacts,
) -> ComplaintFacts:
    records = {ComplaintStage(k): v for k, v in stages.items()} or {
        S1: StageFacts(stage=S1, started_at=RECEIVED)
    }
    return ComplaintFacts(stage=stage, status=status, channel=Channel.email, stages=records)


def _plan(facts: ComplaintFacts, action: Action, at: datetime, **kwargs: object):  # type: ignore[no-untyped-def]
    return domain.plan(
        facts, action, at=at, now=kwargs.pop("now", at), calendar=CALENDAR, policy=POLICY, **kwargs
    )


def test_one_extension_per_stage() -> None:
    fresh = _facts()
    assert _plan(fresh, Action.extend, RECEIVED + timedelta(hours=1)) == (S1, Status.received)
    used = _facts(stage_1=StageFacts(stage=S1, started_at=RECEIVED, extended=True))
    assert Action.extend not in domain.allowed_next(
        used, now=RECEIVED, calendar=CALENDAR, policy=POLICY
    )
    with pytest.raises(PolicyRefusal) as refused:
        _plan(used, Action.extend, RECEIVED + timedelta(hours=1))
    assert refused.value.problem == "extension-used"
    assert "one extension per stage" in refused.value.detail
    assert refused.value.allowed_next == [Action.acknowledge]


def test_stage_2_may_be_extended_after_stage_1_was() -> None:
    escalated = RECEIVED + timedelta(days=10)
    facts = _facts(
        S2,
        Status.acknowledged,
        stage_1=StageFacts(stage=S1, started_at=RECEIVED, extended=True, responded_at=RECEIVED),
        stage_2=StageFacts(stage=S2, started_at=escalated, acknowledged_at=escalated),
    )
    assert _plan(facts, Action.extend, escalated + timedelta(hours=1)) == (S2, Status.acknowledged)


def _responded_at_stage_1(status: Status = Status.responded, officer: str = "officer-a"):  # type: ignore[no-untyped-def]
    responded = RECEIVED + timedelta(days=1)
    return _facts(
        S1,
        status,
        stage_1=StageFacts(
            stage=S1,
            started_at=RECEIVED,
            acknowledged_at=RECEIVED,
            responded_at=responded,
            responded_by=officer,
        ),
    )


def test_escalation_window_is_counted_in_working_days_to_closing_time() -> None:
    facts = _responded_at_stage_1()
    responded = facts.stages[S1].responded_at
    assert responded is not None
    last = domain.escalate_by(CALENDAR, POLICY, facts)
    assert last == CALENDAR.deadline(responded, POLICY.escalation_window_days)
    # Tuesday 3 March + 20 working days is Tuesday 31 March, 17:00 BST (clocks went forward
    # on the 29th).
    assert last == datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
    assert _plan(facts, Action.escalate, last) == (S2, Status.received)
    with pytest.raises(PolicyRefusal) as refused:
        _plan(facts, Action.escalate, last + timedelta(seconds=1))
    assert refused.value.problem == "escalation-window-passed"
    assert "20 working days" in refused.value.detail
    assert refused.value.allowed_next == [Action.close]


def test_a_closed_stage_1_may_still_escalate_within_the_window_only() -> None:
    facts = _responded_at_stage_1(Status.closed)
    inside = RECEIVED + timedelta(days=5)
    assert domain.allowed_next(facts, now=inside, calendar=CALENDAR, policy=POLICY) == [
        Action.escalate
    ]
    assert _plan(facts, Action.escalate, inside) == (S2, Status.received)
    late = RECEIVED + timedelta(days=60)
    assert domain.allowed_next(facts, now=late, calendar=CALENDAR, policy=POLICY) == []


def test_the_ombudsman_has_no_window_here() -> None:
    responded = RECEIVED + timedelta(days=20)
    facts = _facts(
        S2,
        Status.closed,
        stage_1=StageFacts(stage=S1, started_at=RECEIVED, responded_at=RECEIVED),
        stage_2=StageFacts(stage=S2, started_at=RECEIVED, responded_at=responded),
    )
    months_later = responded + timedelta(days=300)
    assert _plan(facts, Action.escalate, months_later) == (OMB, Status.referred)


def _at_stage_2_acknowledged(stage_1_officer: str) -> ComplaintFacts:
    escalated = RECEIVED + timedelta(days=3)
    return _facts(
        S2,
        Status.acknowledged,
        stage_1=StageFacts(
            stage=S1, started_at=RECEIVED, responded_at=RECEIVED, responded_by=stage_1_officer
        ),
        stage_2=StageFacts(stage=S2, started_at=escalated, acknowledged_at=escalated),
    )


@pytest.mark.parametrize("officer", ["officer-a", " OFFICER-A "])
def test_stage_2_response_by_the_stage_1_officer_is_refused(officer: str) -> None:
    facts = _at_stage_2_acknowledged("officer-a")
    with pytest.raises(PolicyRefusal) as refused:
        _plan(facts, Action.respond, RECEIVED + timedelta(days=4), officer=officer)
    assert refused.value.problem == "same-officer"
    assert "different officer" in refused.value.detail
    assert Action.respond in refused.value.allowed_next


def test_stage_2_response_by_another_officer_is_allowed() -> None:
    facts = _at_stage_2_acknowledged("officer-a")
    at = RECEIVED + timedelta(days=4)
    assert _plan(facts, Action.respond, at, officer="officer-b") == (S2, Status.responded)


def test_a_time_in_the_future_is_refused_beyond_the_skew() -> None:
    now = RECEIVED + timedelta(days=1)
    facts = _facts()
    assert _plan(facts, Action.acknowledge, now + timedelta(minutes=4), now=now)
    with pytest.raises(InvalidTime, match="in the future"):
        _plan(facts, Action.acknowledge, now + timedelta(minutes=6), now=now)


@pytest.mark.parametrize(
    ("facts", "action", "step"),
    [
        (_facts(), Action.acknowledge, "receipt"),
        (
            _facts(
                S1,
                Status.acknowledged,
                stage_1=StageFacts(
                    stage=S1, started_at=RECEIVED, acknowledged_at=RECEIVED + timedelta(hours=2)
                ),
            ),
            Action.respond,
            "acknowledgement",
        ),
        (_responded_at_stage_1(), Action.escalate, "stage 1 response"),
        (_responded_at_stage_1(), Action.close, "stage 1 response"),
    ],
)
def test_a_step_cannot_be_dated_before_the_step_it_follows(
    facts: ComplaintFacts, action: Action, step: str
) -> None:
    with pytest.raises(InvalidTime, match=step):
        _plan(facts, action, RECEIVED - timedelta(minutes=1), now=RECEIVED + timedelta(days=30))


def test_the_ombudsman_decision_cannot_predate_the_referral() -> None:
    referred = RECEIVED + timedelta(days=40)
    facts = _facts(
        OMB,
        Status.referred,
        stage_1=StageFacts(stage=S1, started_at=RECEIVED),
        stage_2=StageFacts(stage=S2, started_at=RECEIVED),
        ombudsman=StageFacts(stage=OMB, started_at=referred),
    )
    with pytest.raises(InvalidTime, match="referral"):
        _plan(facts, Action.ombudsman_decision, referred - timedelta(days=1), now=referred)
    assert _plan(facts, Action.ombudsman_decision, referred) == (OMB, Status.closed)


def test_an_extension_longer_than_the_policy_allows_names_the_limit() -> None:
    at = RECEIVED + timedelta(hours=1)
    with pytest.raises(domain.InvalidExtension, match="at most 10 working days"):
        _plan(_facts(), Action.extend, at, working_days=11)
    assert _plan(_facts(), Action.extend, at, working_days=10) == (S1, Status.received)
    # The Complaint Handling Code allows up to 20 more working days at stage 2.
    stage_2 = _facts(
        S2,
        Status.acknowledged,
        stage_1=StageFacts(stage=S1, started_at=RECEIVED),
        stage_2=StageFacts(stage=S2, started_at=RECEIVED, acknowledged_at=RECEIVED),
    )
    assert domain.plan(
        stage_2, Action.extend, at=at, now=at, calendar=CALENDAR, policy=CODE, working_days=20
    ) == (S2, Status.acknowledged)
    with pytest.raises(domain.InvalidExtension, match="at most 10"):
        _plan(stage_2, Action.extend, at, working_days=20)


def test_an_extension_after_the_deadline_it_would_replace_is_refused() -> None:
    due = datetime(2026, 3, 16, 17, 0, tzinfo=UTC)
    facts = _facts(stage_1=StageFacts(stage=S1, started_at=RECEIVED, due_at=due))
    assert _plan(facts, Action.extend, due, working_days=5) == (S1, Status.received)
    with pytest.raises(PolicyRefusal) as refused:
        _plan(facts, Action.extend, due + timedelta(seconds=1), working_days=5)
    assert refused.value.problem == "deadline-passed"
    assert "agreed before the deadline it replaces" in refused.value.detail


def test_a_policy_without_extensions_refuses_them_with_what_is_allowed() -> None:
    strict = parse_policy(
        """
name: strict
extends: default
commitments:
  - id: complaint-respond
    description: Stage 1 complaints are answered within 10 working days, never later.
    contact_type: complaint
    applies_to: {stages: [stage_1]}
    start_events: [complaint.received]
    stop_events: [complaint.responded]
    target: {working_days: 10}
"""
    )
    at = RECEIVED + timedelta(hours=1)
    with pytest.raises(PolicyRefusal) as refused:
        domain.plan(
            _facts(),
            Action.extend,
            at=at,
            now=at,
            calendar=CALENDAR,
            policy=Policy(commitments=strict),
            working_days=1,
        )
    assert refused.value.problem == "extension-not-in-policy"
    assert "allows no extension at stage_1" in refused.value.detail


def test_allowed_next_after_the_ombudsman_decision_is_nothing() -> None:
    facts = _facts(
        OMB,
        Status.closed,
        stage_1=StageFacts(stage=S1, started_at=RECEIVED),
        stage_2=StageFacts(stage=S2, started_at=RECEIVED),
        ombudsman=StageFacts(stage=OMB, started_at=RECEIVED),
    )
    assert domain.allowed_next(facts, now=RECEIVED, calendar=CALENDAR, policy=POLICY) == []


# -- corrections and voids ----------------------------------------------------------------------


def test_the_first_step_is_the_earliest_after_receipt() -> None:
    later = RECEIVED + timedelta(hours=1)
    history = [
        ("received", RECEIVED),
        ("corrected", RECEIVED + timedelta(days=9)),
        ("acknowledged", later + timedelta(hours=2)),
        ("extended", later),
    ]
    assert domain.first_step_at(history) == later
    assert domain.first_step_at([("received", RECEIVED), ("voided", later)]) is None


def test_a_corrected_receipt_is_not_in_the_future_nor_after_the_first_step() -> None:
    policy = POLICY
    now = RECEIVED + timedelta(days=3)
    first = RECEIVED + timedelta(days=1)
    check = domain.corrected_received_at_problem
    assert check(RECEIVED, first_step_at=first, now=now, policy=policy) is None
    assert check(first, first_step_at=first, now=now, policy=policy) is None
    after = check(first + timedelta(seconds=1), first_step_at=first, now=now, policy=policy)
    assert after is not None and "after the first step" in after
    future = check(now + timedelta(hours=1), first_step_at=None, now=now, policy=policy)
    assert future is not None and "future" in future


def test_only_a_duplicate_names_what_it_duplicates() -> None:
    problem = domain.duplicate_of_problem
    assert problem(reason_code="duplicate", duplicate_of="b", complaint_id="a") is None
    assert problem(reason_code="spam", duplicate_of=None, complaint_id="a") is None
    assert "only for reason_code duplicate" in str(
        problem(reason_code="spam", duplicate_of="b", complaint_id="a")
    )
    assert "itself" in str(problem(reason_code="duplicate", duplicate_of="a", complaint_id="a"))


def test_a_voided_complaint_refuses_every_action_saying_why() -> None:
    for action in Action:
        with pytest.raises(PolicyRefusal) as refused:
            domain.next_state(S1, Status.voided, action)
        assert "voided" in refused.value.detail
        assert refused.value.allowed_next == []
