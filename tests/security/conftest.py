"""What the security suite prints after its run: the fuzzing summary of each service."""

from __future__ import annotations

from typing import Any

import pytest

_SUMMARY = pytest.StashKey[list[str]]()


@pytest.fixture
def security_summary(request: pytest.FixtureRequest) -> list[str]:
    """Lines a test wants shown in the run's terminal summary."""
    return request.config.stash.setdefault(_SUMMARY, [])


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    lines = config.stash.get(_SUMMARY, [])
    if lines:
        terminalreporter.section("security suite")
        for line in lines:
            terminalreporter.write_line(line)
