"""Benchmark 4: sla-monitor's and metrics-api's own benchmarks, run as they are, figures parsed.

services/sla-monitor/bench/bench_sla.py and services/metrics-api/bench/bench_scorecard.py
(their methods are in those services' READMEs); each runs in a process of its own.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

from common import ROOT, log, median

NUMBER = r"([\d,.]+)"


def _number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    if not found:
        raise RuntimeError(f"no match for {pattern!r} in:\n{text[-3000:]}")
    return float(found.group(1).replace(",", ""))


async def _run(command: list[str], timeout: float) -> str:
    done = await asyncio.to_thread(
        subprocess.run, command, cwd=ROOT, capture_output=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{command[1]} failed: {done.stderr.decode()[-3000:]}")
    return done.stdout.decode()


def _sla_figures(out: str) -> dict:
    """The figures bench_sla.py printed: events/s, breach delays and memory at 100k and 1M."""
    return {
        "events_per_second": _number(rf"= {NUMBER} events/s", out),
        "p99_100k_ms": _number(rf"100,000 clocks open:.*?p99 {NUMBER} ms", out),
        "p99_1m_ms": _number(rf"1,000,000 clocks open:.*?p99 {NUMBER} ms", out),
        "p50_1m_ms": _number(rf"1,000,000 clocks open:.*?p50 {NUMBER} ms", out),
        "rss_100k": _number(rf"100,000 clocks open:.*?RSS {NUMBER} MiB", out),
        "rss_1m": _number(rf"1,000,000 clocks open:.*?RSS {NUMBER} MiB", out),
        "output": out.strip(),
    }


async def run_sla(*, repeat: int, quick: bool, full: bool) -> dict:
    """bench_sla.py `repeat` times: events/s, breach delay with 100k and 1M clocks, memory."""
    events, stream = (100_000, 300) if full else (20_000, 60) if quick else (40_000, 100)
    command = [sys.executable, "services/sla-monitor/bench/bench_sla.py"]
    command += ["--events", str(events), "--stream-calls", str(stream), "--per-second", "20"]
    runs = []
    for rep in range(repeat):
        log(f"sla-monitor {rep + 1}/{repeat}: {' '.join(command[1:])}")
        figures = _sla_figures(await _run(command, timeout=3600))
        log(f"sla-monitor {rep + 1}: {figures['events_per_second']:,.0f} events/s")
        runs.append(figures)

    def med(key: str) -> float:
        return median([r[key] for r in runs])

    rate = med("events_per_second")
    p99 = max(med("p99_100k_ms"), med("p99_1m_ms"))
    growth = med("rss_1m") - med("rss_100k")
    return {
        "name": "sla",
        "command": " ".join(["python", *command[1:]]),
        "rows": [
            {
                "benchmark": "4a. sla-monitor",
                "measure": f"events/s consumed and evaluated, one instance ({events:,} events)",
                "value": f"{rate:,.0f} events/s",
                "baseline": "",
                "ratio": "",
                "goal": "≥ 10,000 events/s",
                "met": rate >= 10_000,
            },
            {
                "benchmark": "4a. sla-monitor",
                "measure": f"deadline → sla.breached read back, p99 ({stream} breaches; "
                "100,000 / 1,000,000 clocks open)",
                "value": f"{med('p99_100k_ms'):.0f} / {med('p99_1m_ms'):.0f} ms",
                "baseline": "",
                "ratio": "",
                "goal": "p99 < 1 s",
                "met": p99 < 1000,
            },
            {
                "benchmark": "4a. sla-monitor",
                "measure": "resident memory, 100,000 / 1,000,000 clocks open",
                "value": f"{med('rss_100k'):.0f} / {med('rss_1m'):.0f} MiB",
                "baseline": "",
                "ratio": "",
                "goal": "flat in the open clocks",
                "met": growth < 20,
            },
        ],
        "runs": runs,
        "extra": [],
    }


async def run_metrics(*, repeat: int, quick: bool, full: bool) -> dict:
    """bench_scorecard.py `repeat` times: the score card against a full scan of raw events."""
    contacts = 1_000_000 if quick and not full else 10_000_000
    command = [sys.executable, "services/metrics-api/bench/bench_scorecard.py"]
    command += ["--contacts", str(contacts), "--runs", "15"]
    runs = []
    for rep in range(repeat):
        log(f"metrics-api {rep + 1}/{repeat}: {' '.join(command[1:])}")
        out = await _run(command, timeout=3600)
        figures = {
            "scorecard_ms": _number(rf"scorecard\?period=2030-31, median of \d+: {NUMBER} ms", out),
            "scan_ms": _number(rf"one full scan of the raw events: {NUMBER} ms", out),
            "wait_times_ms": _number(rf"wait-times \(histogram, median\): {NUMBER} ms", out),
            "kpis_ms": _number(rf"kpis\?by=service_area \(median\): {NUMBER} ms", out),
            "output": out.strip(),
        }
        log(f"metrics-api {rep + 1}: {figures['scorecard_ms']} ms vs scan {figures['scan_ms']} ms")
        runs.append(figures)

    def med(key: str) -> float:
        return median([r[key] for r in runs])

    ratio = med("scorecard_ms") / med("scan_ms")
    at_goal_size = contacts >= 10_000_000
    return {
        "name": "metrics",
        "command": " ".join(["python", *command[1:]]),
        "rows": [
            {
                "benchmark": "4b. metrics-api",
                "measure": f"GET /v1/scorecard?period=2030-31, median of 15 "
                f"({contacts:,} contacts)",
                "value": f"{med('scorecard_ms'):.1f} ms",
                "baseline": f"{med('scan_ms'):,.0f} ms (one full scan of the raw events)",
                "ratio": f"{ratio:.2%}",
                "goal": "< 1% of the scan (at 10 million contacts)",
                "met": (ratio < 0.01) if at_goal_size else None,
            },
            {
                "benchmark": "4b. metrics-api",
                "measure": "GET /v1/calls/wait-times / GET /v1/kpis?by=service_area, median",
                "value": f"{med('wait_times_ms'):.1f} / {med('kpis_ms'):.1f} ms",
                "baseline": "",
                "ratio": "",
                "goal": "",
                "met": None,
            },
        ],
        "runs": runs,
        "extra": []
        if at_goal_size
        else ["--quick runs 1 million contacts: the score card's goal is set at 10 million."],
    }
