"""Benchmark 5b, the sustainable rate: the highest contact-event rate the system keeps up with.

Each step is one run of benchmark 5 (`e2e.py`: the four services, the bundled broker, the same
bursty open-loop load and the same measures) at a rate R for S seconds, on a PostgreSQL cluster
of its own (`pgcluster.py`: the machine server's settings, pg_stat_statements loaded), so that
PostgreSQL's CPU and where its time goes are measured with the rest. A rate is **sustained**
when the APIs answered 2xx at least 99% of the offered contact events within the offered
seconds and failed none, the clock p99 (API answer → SLA clock visible) is under 1 s, and
neither consumer group's lag grew faster than 1% of R (least-squares slope over the load).
The search starts at START and doubles while sustained, up to the goal (1,500/s; a pass there
ends it); after the first failure it bisects between the highest pass and the lowest failure
STEPS times. The result is the highest sustained rate, with each process's CPU per contact
event at that rate (PostgreSQL's backends included) and pg_stat_statements' top statements
at the highest pass and the lowest failure. `python bench/sustainable.py --start R --seconds S
--steps N` prints the runs as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import e2e  # noqa: E402

GOAL_RATE = e2e.GOAL_RATE


def verdict(figures: dict) -> list[str]:
    """Why a run did not sustain its rate (empty when it did)."""
    rate = figures["rate"]
    reasons = []
    if figures["events_accepted_per_s"] < 0.99 * rate:
        reasons.append(f"accepted {figures['events_accepted_per_s']:,.0f}/s of {rate:,.0f}")
    if figures["load"]["failed"]:
        reasons.append(f"{figures['load']['failed']:,} requests failed")
    if not figures["clock_p99_ms"] < 1000:
        reasons.append(f"clock p99 {figures['clock_p99_ms']:,.0f} ms")
    for group, lag in figures["lag"].items():
        if lag["end"] is None or lag["slope_per_s"] > 0.01 * rate:
            reasons.append(f"{group} lag slope {lag['slope_per_s']:+.1f}/s")
    return reasons


def next_rate(runs: list[dict], *, start: float, steps: int) -> float | None:
    """The next rate to try given the runs so far, or None when the search is over."""
    if not runs:
        return start
    passed = [r["rate"] for r in runs if not r["reasons"]]
    failed = [r["rate"] for r in runs if r["reasons"]]
    best = max(passed, default=None)
    if not failed:
        return None if best is None or best >= GOAL_RATE else min(2 * best, GOAL_RATE)
    lowest_fail = min(failed)
    bisections = sum(1 for r in runs if r.get("bisect"))
    if bisections >= steps:
        return None
    low = best if best is not None and best < lowest_fail else lowest_fail / 2
    return round((low + lowest_fail) / 2 / 25) * 25  # whole multiples of 25/s


async def search(*, start: float, seconds: float, steps: int) -> list[dict]:
    """Runs the steps of the search; each run's figures with its verdict."""
    from common import log

    runs: list[dict] = []
    while (rate := next_rate(runs, start=start, steps=steps)) is not None:
        if any(r["rate"] == rate for r in runs):
            break
        figures = await e2e.measure_once(rate=rate, seconds=seconds, private_postgres=True)
        figures["reasons"] = verdict(figures)
        figures["bisect"] = any(r["reasons"] for r in runs)
        runs.append(figures)
        log(
            f"sustainable: {rate:,.0f}/s "
            + ("sustained" if not figures["reasons"] else "not: " + "; ".join(figures["reasons"]))
        )
    return runs


async def run(*, repeat: int, quick: bool) -> dict:
    """The search as one benchmark of `bench/run.py` (`repeat` is not used)."""
    seconds, steps = (60.0, 1) if quick else (120.0, 2)
    runs = await search(start=300.0, seconds=seconds, steps=steps)
    return report(runs, seconds=seconds)


def report(runs: list[dict], *, seconds: float) -> dict:
    """The sustainable rate against the goal; CPU and statements as diagnostics."""
    passed = [r for r in runs if not r["reasons"]]
    best = max(passed, key=lambda r: r["rate"], default=None)
    failed = [r for r in runs if r["reasons"]]
    lowest_fail = min(failed, key=lambda r: r["rate"], default=None)
    value = f"{best['rate']:,.0f} events/s" if best else "none of the rates tried"
    rows = [
        {
            "benchmark": "5b. Sustainable rate",
            "measure": f"highest rate sustained for {seconds:.0f} s (≥ 99% answered, none failed, "
            "clock p99 < 1 s, lag slope ≤ 1%); rates tried: "
            + ", ".join(f"{r['rate']:,.0f}{'' if not r['reasons'] else ' ✗'}" for r in runs),
            "value": value,
            "baseline": f"{GOAL_RATE:,.0f} events/s goal",
            "ratio": f"{best['rate'] / GOAL_RATE:.0%}" if best else "0%",
            "goal": f"{GOAL_RATE:,.0f} events/s",
            "met": bool(best and best["rate"] >= GOAL_RATE),
        }
    ]
    extra = [_run_line(r) for r in runs]
    for label, chosen in (("highest sustained", best), ("lowest not sustained", lowest_fail)):
        if chosen:
            extra.append(f"at the {label} rate ({chosen['rate']:,.0f}/s):")
            extra += e2e._system_extra(chosen)
    return {
        "name": "e2e-rate",
        "rows": rows,
        "runs": [_slim(r) for r in runs],
        "command": "python bench/run.py --only e2e-rate",
        "extra": extra,
    }


def _run_line(r: dict) -> str:
    cpu = r.get("cpu_ms_per_event", {})
    return (
        f"{r['rate']:,.0f}/s: accepted {r['events_accepted_per_s']:,.0f}/s, clock p50/p99 "
        f"{r['clock_p50_ms']:,.0f}/{r['clock_p99_ms']:,.0f} ms, lag slope "
        + ", ".join(f"{g} {lag['slope_per_s']:+.1f}/s" for g, lag in r["lag"].items())
        + f", CPU per event {sum(cpu.values()):.2f} ms (PostgreSQL "
        f"{cpu.get('postgresql', 0):.2f}), machine {r['machine_busy']:.2f} cores: "
        + ("sustained" if not r["reasons"] else "not sustained (" + "; ".join(r["reasons"]) + ")")
    )


def _slim(r: dict) -> dict:
    """A run without its long series (results.json stays readable)."""
    slim = dict(r)
    slim["lag"] = {
        g: {k: v for k, v in lag.items() if k != "series"} for g, lag in r["lag"].items()
    }
    return slim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=float, default=300.0)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()

    import uvloop

    runs = uvloop.run(search(start=args.start, seconds=args.seconds, steps=args.steps))
    result = report(runs, seconds=args.seconds)
    print(json.dumps({"rows": result["rows"], "extra": result["extra"]}, indent=1, default=str))


if __name__ == "__main__":
    main()
