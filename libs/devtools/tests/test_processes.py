"""contact_devtools.processes: minimal environments, and process groups stopped whole."""

from __future__ import annotations

import time

import psutil
import pytest

from contact_devtools.processes import minimal_env, start_group, stop_group


def test_a_minimal_environment_has_the_basics_and_what_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEV_API_KEY", "not-a-key")
    monkeypatch.setenv("SOMETHING_OF_THE_DEVELOPERS", "1")
    env = minimal_env(ENQUIRY_PORT="8101")
    assert env["ENQUIRY_PORT"] == "8101"
    assert env["PATH"]
    assert "DEV_API_KEY" not in env and "SOMETHING_OF_THE_DEVELOPERS" not in env


def test_what_outlives_the_leader_of_a_group_is_stopped_with_it() -> None:
    # The sleep ignores SIGTERM; the shell that started it ends on it.
    leader = start_group(["sh", "-c", "(trap '' TERM; exec sleep 120) & wait"], env=minimal_env())
    try:
        deadline = time.monotonic() + 10
        while not (started := psutil.Process(leader.pid).children()):
            assert time.monotonic() < deadline, "the shell started nothing"
            time.sleep(0.05)
    finally:
        stop_group(leader, timeout=5)
    assert leader.returncode is not None
    _, alive = psutil.wait_procs(started, timeout=5)
    assert not alive
