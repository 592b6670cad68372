"""The operator commands that need no running service: keys, policy and the demo summary."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from contact_common.auth import read_key_file
from contactctl.main import app

runner = CliRunner()


def test_policy_validate_names_the_bad_entry(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "name: ours\ncommitments:\n  - id: phone-answer\n    description: Answer calls.\n"
        "    contact_type: call\n    start_events: [enquiry.opened]\n"
        "    stop_events: [call.answered]\n    target: {seconds: 15}\n"
    )
    result = runner.invoke(app, ["policy", "validate", str(policy)], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "commitments[0] (phone-answer)" in result.output
    assert "start_events: enquiry.opened is not a call event" in result.output


def test_policy_validate_and_show_the_shipped_policy() -> None:
    shipped = Path(__file__).parents[2] / "libs/common/src/contact_common/commitments/policies"
    result = runner.invoke(app, ["policy", "validate", str(shipped / "default.yaml")])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output
    shown = runner.invoke(
        app, ["policy", "show", "complaint-handling-code-2024"], env={"COLUMNS": "250"}
    )
    assert shown.exit_code == 0, shown.output
    assert "from acknowledgement" in shown.output
    assert "up to 20 working days" in shown.output  # the Code's stage 2 extension


def test_policy_show_reads_the_policy_in_force_from_POLICY() -> None:
    shown = runner.invoke(
        app,
        ["policy", "show"],
        env={"COLUMNS": "250", "POLICY": "complaint-handling-code-2024"},
    )
    assert shown.exit_code == 0, shown.output
    assert "complaint-handling-code-2024" in shown.output


def test_demo_show_summarises_without_sending() -> None:
    result = runner.invoke(
        app, ["demo", "show", "--scale", "0.05", "--fraction", "0.1"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "calls offered" in result.output and "2025-04" in result.output
    assert "2025-09" not in result.output  # a tenth of the year ends in May


def test_demo_load_refuses_a_bad_year() -> None:
    result = runner.invoke(
        app, ["demo", "load", "--year", "2025-27", "--api-key", "cc_a_b"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 2
    assert "not a financial year" in result.output


def test_keys_issue_with_a_rate_limit_of_its_own(tmp_path: Path) -> None:
    keys_file = tmp_path / "api-keys.json"
    common = ["--name", "bulk-export", "--scope", "metrics:read", "--keys-file", str(keys_file)]
    issued = runner.invoke(app, ["keys", "issue", *common, "--rate-limit", "20 per 2 seconds"])
    assert issued.exit_code == 0, issued.output
    (record,) = read_key_file(keys_file).keys
    assert record.rate_limit == "20 per 2 seconds"
    listed = runner.invoke(
        app, ["keys", "list", "--keys-file", str(keys_file)], env={"COLUMNS": "200"}
    )
    assert "20 per 2 seconds" in listed.output

    refused = runner.invoke(
        app, ["keys", "issue", *common, "--rate-limit", "lots"], env={"COLUMNS": "200"}
    )
    assert refused.exit_code == 2
    assert "not a rate limit" in refused.output
    assert len(read_key_file(keys_file).keys) == 1
