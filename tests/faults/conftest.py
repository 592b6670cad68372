"""The fault suite's system (one per module) and its summary table, printed at the end of the
pytest run and written to test-artifacts/faults-summary.txt."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from stack import System, start_system, stop_system  # noqa: E402

SUMMARY = pytest.StashKey[list[str]]()
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", "test-artifacts"))


@pytest.fixture(scope="module")
async def system(postgres_server_url: str | None) -> AsyncIterator[System]:
    """The four services as processes, PostgreSQL, and a broker whose log survives a restart."""
    if postgres_server_url is None:
        pytest.fail("the fault suite needs PostgreSQL, and none answered on 127.0.0.1:5432")
    # The services' and the broker's logs stay in test-artifacts/faults/ to read after a run.
    logs = (ARTIFACTS / "faults").resolve()
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    started = await start_system(postgres_server_url, logs)
    try:
        yield started
    finally:
        await stop_system(started)


@pytest.fixture(scope="session")
def fault_summary(request: pytest.FixtureRequest) -> list[str]:
    """Lines of the summary table; the terminal summary prints them, and they go to a file."""
    lines = request.config.stash.setdefault(SUMMARY, [])
    yield lines
    if lines:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "faults-summary.txt").write_text("\n".join(lines) + "\n")


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    lines = config.stash.get(SUMMARY, [])
    if lines:
        terminalreporter.section("fault suite")
        for line in lines:
            terminalreporter.write_line(line)
