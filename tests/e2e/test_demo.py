"""The demo year end to end: `make run`'s script, a small scale of 2025-26 sent through the APIs
by the loader, and metrics-api's score card showing a whole financial year near the seeds."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from contact_devtools.broker import free_port
from contact_devtools.processes import interrupt, minimal_env
from contactctl.demo import DemoYear
from contactctl.loader import LoadReport, load

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PREFIXES = {
    "enquiry-api": "ENQUIRY_",
    "complaints-api": "COMPLAINTS_",
    "sla-monitor": "SLA_",
    "metrics-api": "METRICS_",
}
ADMIN_KEY = "cc_demoe2e_notasecretjustforthistest"
YEAR = "2025-26"
MONTHS = [(2025, m) for m in range(4, 13)] + [(2026, m) for m in range(1, 4)]


def _rows(scorecard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["kpi"]: row for row in scorecard["rows"]}


def _consumed(client: httpx.Client, metrics: str, report: LoadReport) -> dict[str, Any] | None:
    """The score card once metrics-api has counted everything the loader sent, else None."""
    scorecard = client.get(f"{metrics}/v1/scorecard", params={"period": YEAR}).json()
    rows = _rows(scorecard)
    waits = client.get(f"{metrics}/v1/calls/wait-times", params={"period": YEAR}).json()
    offered = sum(row["offered"] for row in waits["rows"] if row["channel"] == "phone")
    if rows["CX03"]["denominator"] != report.enquiries_created:
        return None
    if offered != report.calls_created:
        return None
    if any(row["actual"] is None for row in rows.values()):
        return None  # sla-monitor's verdicts and the complaints' decisions still on their way
    return scorecard


@pytest.mark.timeout(600)
def test_a_demo_year_fills_the_score_card(tmp_path: Path) -> None:
    ports = {name: free_port() for name in PREFIXES}
    # What `make run` gets here is this test's alone: not the developer's settings, nor a
    # `.env` in the repository (it runs in tmp_path).
    env = minimal_env(
        **{f"{PREFIXES[name]}PORT": str(port) for name, port in ports.items()},
        VAR_DIR=str(tmp_path / "var"),
        DEV_BROKER_PORT=str(free_port()),
        DEV_API_KEY=ADMIN_KEY,
        PYTHONUNBUFFERED="1",
    )
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "run_local.py")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    try:
        assert process.stdout is not None
        output = []
        for line in process.stdout:
            output.append(line)
            if "Ctrl-C stops everything" in line:
                break
        assert "Ctrl-C stops everything" in "".join(output), "".join(output)

        demo_year = DemoYear(YEAR, scale=0.02, seed=7)
        started = time.monotonic()
        report = asyncio.run(
            load(
                demo_year,
                enquiry_url=url["enquiry-api"],
                complaints_url=url["complaints-api"],
                api_key=ADMIN_KEY,
            )
        )
        loaded_in = time.monotonic() - started
        print(
            f"loaded {report.contacts} contacts ({report.requests} requests) in {loaded_in:.1f}s: "
            f"{report.contacts_per_second:.0f} contacts/s, {report.requests_per_second:.0f} "
            "requests/s"
        )
        assert report.failures == 0, report.problems
        assert report.contacts == pytest.approx(demo_year.expected_contacts(), rel=0.1)
        assert report.enquiries_created > 1000 and report.complaints_created >= 3

        metrics = url["metrics-api"]
        with httpx.Client(headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30) as client:
            deadline = time.monotonic() + 240
            scorecard = None
            while scorecard is None and time.monotonic() < deadline:
                scorecard = _consumed(client, metrics, report)
                if scorecard is None:
                    time.sleep(1)
            assert scorecard is not None, client.get(
                f"{metrics}/v1/scorecard", params={"period": YEAR}
            ).text
            rows = _rows(scorecard)
            assert scorecard["period"]["start"] == "2025-04-01"
            assert scorecard["period"]["end"] == "2026-03-31"
            # Every KPI has an actual for the year, and the seeds' own figures show through.
            assert all(row["actual"] is not None for row in rows.values()), rows
            assert 85 <= rows["CX04"]["actual"] <= 99  # calls resolved at first point, ~90%
            assert 80 <= rows["CX04-all"]["actual"] <= 96
            assert 70 <= rows["call-wait-mean"]["actual"] <= 115  # mean wait ~1m30s
            assert rows["call-wait-max"]["actual"] < 900
            assert 33 <= rows["CX03"]["actual"] <= 49  # portal share, target 41%
            assert 3.8 <= rows["CX02"]["actual"] <= 4.6  # online satisfaction, target 4.2
            # Every month of the financial year has contacts on several channels.
            for year, month in MONTHS:
                first, last = f"{year}-{month:02d}-01", f"{year}-{month:02d}-28"
                channels = client.get(
                    f"{metrics}/v1/channels", params={"from": first, "to": last}
                ).json()
                contacts = {row["channel"]: row["contacts"] for row in channels["rows"]}
                assert contacts.get("phone", 0) > 50, (first, contacts)
                assert contacts.get("portal", 0) > 10, (first, contacts)
                assert contacts.get("email", 0) > 3, (first, contacts)
    finally:
        rest = interrupt(process, timeout=90)
    assert process.returncode == 0, rest
