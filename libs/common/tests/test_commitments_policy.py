"""The policy file: the shipped policies say what DESIGN.md says; a bad one names its entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from contact_common.commitments import PolicyError, load_policy, parse_policy

DESIGN_TABLE = {
    "phone-answer": ("call.offered", {"seconds": 15}),
    "phone-wait-max": ("call.offered", {"seconds": 600}),
    "reception-attend": ("visit.arrived", {"seconds": 300}),
    "email-acknowledge": ("enquiry.opened", {"working_days": 1}),
    "email-respond": ("enquiry.opened", {"working_days": 3}),
    "letter-respond": ("enquiry.opened", {"working_days": 10}),
    "voicemail-respond": ("enquiry.opened", {"working_days": 1}),
    "complaint-acknowledge": ("complaint.received", {"working_days": 3}),
    "complaint-respond": ("complaint.received", {"working_days": 10}),
    "complaint-respond-stage2": ("complaint.escalated", {"working_days": 20}),
}

GOOD = """
name: test
commitments:
  - id: email-acknowledge
    description: Emails are acknowledged within 1 working day.
    contact_type: enquiry
    applies_to: {channels: [email]}
    start_events: [enquiry.opened]
    stop_events: [enquiry.acknowledged]
    target: {working_days: 1}
"""


def test_the_default_policy_is_the_design_table() -> None:
    policy = load_policy("default")
    assert [c.id for c in policy.commitments] == list(DESIGN_TABLE)
    for commitment in policy.commitments:
        start, target = DESIGN_TABLE[commitment.id]
        assert start in commitment.start_events
        assert commitment.target.model_dump(exclude_none=True) == target
        assert commitment.at_risk_share == 0.75
        assert commitment.anchor == "received"
    # Office-hours commitments never cover the out-of-hours contractor.
    for commitment in policy.commitments:
        if commitment.applies_to.office_hours_only:
            assert "standby" not in (commitment.applies_to.channels or [])
            assert commitment.applies_to.channels is not None


def test_the_complaint_handling_code_counts_responses_from_acknowledgement() -> None:
    policy = load_policy("complaint-handling-code-2024")
    acknowledge = policy.by_id["complaint-acknowledge"]
    assert acknowledge.target.working_days == 5
    assert set(acknowledge.start_events) == {"complaint.received", "complaint.escalated"}
    stage_1 = policy.by_id["complaint-respond"]
    stage_2 = policy.by_id["complaint-respond-stage2"]
    assert (stage_1.anchor, stage_1.target.working_days) == ("acknowledged", 10)
    assert (stage_2.anchor, stage_2.target.working_days) == ("acknowledged", 20)
    assert stage_1.start_events == stage_2.start_events == ["complaint.acknowledged"]
    assert policy.by_id["phone-answer"].target.seconds == 15


def test_a_policy_file_by_path(tmp_path: Path) -> None:
    path = tmp_path / "ours.yaml"
    path.write_text(GOOD)
    assert load_policy(str(path)).by_id["email-acknowledge"].target.working_days == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("stop_events: [enquiry.acknowledged]", "stop_events: [enquiry.acknowleged]"),
            "commitments[0] (email-acknowledge): stop_events: unknown event type",
        ),
        (
            ("target: {working_days: 1}", "target: {working_days: 1, seconds: 5}"),
            "exactly one of seconds or working_days",
        ),
        (
            ("target: {working_days: 1}", "target: {working_days: 0}"),
            "commitments[0] (email-acknowledge).target.working_days",
        ),
        (
            ("stop_events: [enquiry.acknowledged]", "stop_events: [call.answered]"),
            "call.answered is not a enquiry event",
        ),
        (
            (
                "    target: {working_days: 1}",
                "    target: {working_days: 1}\n    anchor: acknowledged",
            ),
            "anchor acknowledged",
        ),
        (
            ("applies_to: {channels: [email]}", "applies_to: {channels: [carrier_pigeon]}"),
            "applies_to.channels[0]",
        ),
        (("contact_type: enquiry", "contact_type: enquiry\n    colour: red"), "colour"),
    ],
)
def test_a_bad_policy_names_the_bad_entry(change: tuple[str, str], message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(GOOD.replace(*change), source="ours.yaml")
    assert message in str(caught.value)
    assert "ours.yaml" in str(caught.value)


def test_duplicate_ids_and_missing_files_are_refused(tmp_path: Path) -> None:
    twice = GOOD + GOOD.split("commitments:\n", 1)[1]
    with pytest.raises(PolicyError, match="appears twice"):
        parse_policy(twice)
    with pytest.raises(PolicyError, match="neither a shipped policy"):
        load_policy(str(tmp_path / "absent.yaml"))
    with pytest.raises(PolicyError, match="not valid YAML"):
        parse_policy("name: [unclosed")
