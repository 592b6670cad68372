"""A short soak in the suite: about a minute and a half of contacts under a fixed seed's faults.

`make soak` runs the long one (soak.py); this proves the soak's machinery and the system's
guarantees on every `make test`: the broker behind a proxy it advertises, every service's
database behind another, and after the faults every recorded contact in every read model
exactly once, every breach flagged once, no failed request outside a fault's window.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest
from soak import Report, plan, run_soak
from stack import System, start_system, stop_system

from conftest import ARTIFACTS

pytestmark = pytest.mark.e2e

SEED = 133  # stall, database outage, reset, broker restart, kill -9, SIGTERM first
SECONDS = 75.0


@pytest.fixture(scope="module")
async def soak_system(postgres_server_url: str | None) -> AsyncIterator[System]:
    """The fault suite's system with the broker and every database connection proxied."""
    if postgres_server_url is None:
        pytest.fail("the soak needs PostgreSQL, and none answered on 127.0.0.1:5432")
    logs = (ARTIFACTS / "soak").resolve()
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    started = await start_system(
        postgres_server_url, logs, proxy_broker=True, proxy_every_database=True
    )
    try:
        yield started
    finally:
        await stop_system(started)


def test_the_schedule_is_the_seeds() -> None:
    """The same seed, the same faults in the same order; each kind once per deck of twelve."""
    first = [p for p, _ in zip(plan(SEED), range(24), strict=False)]
    again = [p for p, _ in zip(plan(SEED), range(24), strict=False)]
    assert first == again
    assert first != [p for p, _ in zip(plan(SEED + 1), range(24), strict=False)]
    for deck in (first[:12], first[12:]):
        assert len({p.name for p in deck}) == 12
    assert all(3.0 <= p.gap <= 8.0 and 2.0 <= p.seconds <= 6.0 for p in first)


@pytest.mark.timeout(900)
async def test_short_soak(soak_system: System, fault_summary: list[str]) -> None:
    report: Report = await run_soak(soak_system, seed=SEED, seconds=SECONDS)
    text = report.render()
    print("\n" + text)
    fault_summary.extend(text.splitlines())
    (ARTIFACTS / "soak-summary.txt").write_text(text)
    # The stream ran through several faults of different kinds, all proved real.
    assert len(report.faults) >= 3
    assert len({f.planned.kind for f in report.faults}) >= 3
    recorded = [v for v in report.verdicts if v.recorded]
    assert len(recorded) > SECONDS * 2
    # Deadlines were missed during the run, so breaches were there to flag.
    assert any(v.contact.clocks.get("reception-attend") == "breached" for v in recorded)
    assert not report.problems, "\n".join(report.problems)
    assert all(not v.lost and not v.duplicated for v in report.verdicts)
    assert not report.outside()
