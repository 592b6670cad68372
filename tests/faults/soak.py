"""The soak: contacts at a steady rate while a seeded random schedule of faults hits the system,
then a check that nothing accepted was lost or doubled and no API failed outside a fault.

The system is the fault suite's (stack.py), with every service's database connections behind
one TCP proxy and the broker behind another (tansu advertises the proxy's port, so every Kafka
connection passes it). The faults, drawn with `random.Random(seed)` from a shuffled deck so
each kind comes round once per deck:

- broker restart (tansu stopped for a few seconds, started again on the same S3 store),
- broker stall (the proxy holds every byte, sockets open) and broker reset (every connection
  closed with an RST),
- database outage (the proxy resets every connection and refuses new ones for a few seconds:
  a PostgreSQL restart as the services see it; the machine's server is shared, not ours to
  restart; test_faults.py has the real restart, to run alone),
- SIGKILL and SIGTERM of each of the four services, started again after.

Run `make soak` (SOAK_MINUTES, SOAK_SEED), or `python tests/faults/soak.py --help`; the suite
runs a short one (test_soak.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from load import Attempt, Contact, Load  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from stack import (  # noqa: E402
    CONSUMERS,
    OFFICE_DAY,
    SERVICES,
    ServiceProcess,
    System,
    start_system,
    stop_system,
)

from contact_common.bus.binding import from_message  # noqa: E402
from contact_common.bus.topics import CONTACT_EVENTS, SLA_EVENTS  # noqa: E402
from contact_common.events import EventDecodeError  # noqa: E402
from contact_devtools.testing import LOCAL_POSTGRES, EventTap  # noqa: E402

RATE = 4.0  # contacts a second, steady: light enough for a shared 2-core machine
GAP = (3.0, 8.0)  # seconds of plain stream before each fault
LENGTH = (2.0, 6.0)  # seconds a timed fault (outage, stall) lasts
RECOVERY = 5.0  # seconds after a fault ends in which the APIs it touches may still fail
# The bound within which everything recorded must reach every read model: at least as long as
# the stream ran. The consumers' fetches of a backlog are bound by tansu's S3 store (moto, one
# Python process): slow, and with a fetch wait under a read's time never done, which is why the
# fault stack sets KAFKA_FETCH_MAX_WAIT_MS=500 (docs/decisions.md).
DRAIN = 180.0
NAMES = [name for name, *_ in SERVICES]
BEFORE_FAULTS = "(before the first fault)"
FIRST_EVENTS = ("call.offered", "visit.arrived", "enquiry.opened", "complaint.received")


# -- the schedule ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    """One fault of the schedule: what, to which service, how long, after how quiet a gap."""

    kind: str
    service: str | None
    seconds: float
    gap: float

    @property
    def name(self) -> str:
        return f"{self.kind} {self.service}" if self.service else self.kind

    @property
    def may_fail(self) -> frozenset[str]:
        """The services whose requests this fault may fail (the broker's faults: none; an API
        writes its events to its outbox and answers, whatever the broker does)."""
        if self.kind == "database outage":
            return frozenset(NAMES)
        return frozenset([self.service]) if self.service else frozenset()


def plan(seed: int) -> Iterator[Planned]:
    """The endless seeded schedule: the deck of every fault, shuffled again each round."""
    rng = random.Random(seed)
    deck: list[tuple[str, str | None]] = [
        ("broker restart", None),
        ("broker stall", None),
        ("broker reset", None),
        ("database outage", None),
        *((kind, name) for kind in ("kill -9", "SIGTERM") for name in NAMES),
    ]
    while True:
        rng.shuffle(deck)
        for kind, service in deck:
            seconds, gap = round(rng.uniform(*LENGTH), 1), round(rng.uniform(*GAP), 1)
            yield Planned(kind, service, seconds, gap)


@dataclass
class Fault:
    """A fault as it happened: its window on the event loop's clock, and its proof."""

    planned: Planned
    start: float = 0.0
    end: float = 0.0
    proof: str = ""
    real: bool = False

    @property
    def name(self) -> str:
        return self.planned.name


# -- injecting ------------------------------------------------------------------------------


async def inject(system: System, planned: Planned) -> Fault:
    """Injects one fault and undoes it; returns when the system is whole again."""
    loop = asyncio.get_running_loop()
    fault = Fault(planned, start=loop.time())
    if planned.kind in ("kill -9", "SIGTERM"):
        await _restart_service(system, fault)
    elif planned.kind == "broker restart":
        old = system.broker.process.pid if system.broker.process else None
        await asyncio.to_thread(system.broker.stop)
        await asyncio.sleep(planned.seconds)
        await asyncio.to_thread(system.broker.start)
        new = system.broker.process.pid if system.broker.process else None
        fault.real = old is not None and new is not None and old != new
        fault.proof = f"tansu pid {old} stopped, pid {new} serves the same store"
    elif planned.kind == "database outage":
        before = system.proxy.stats.connections
        reset = await system.proxy.outage(planned.seconds)
        await asyncio.sleep(1)
        again = system.proxy.stats.connections - before
        fault.real = reset > 0
        fault.proof = f"{reset} connections reset, port closed; {again} new within 1 s"
    else:
        await _broker_network(system, fault)
    fault.end = loop.time()
    return fault


async def _restart_service(system: System, fault: Fault) -> None:
    service = system.services[fault.planned.service or ""]
    old = service.pid
    if fault.planned.kind == "kill -9":
        status = await asyncio.to_thread(service.kill)
        fault.real = status == -9
    else:
        try:
            status = await asyncio.to_thread(service.terminate)
        except subprocess.TimeoutExpired:  # a shutdown that hangs: a finding, not the end
            await asyncio.to_thread(service.kill)
            await _restarted(service, fault, old)
            fault.proof = f"pid {old} did not exit within 60 s of SIGTERM (killed); {fault.proof}"
            fault.real = False
            return
        # Graceful: uvicorn finished its shutdown (then re-raised the signal: exit -15).
        log = await asyncio.to_thread(service.log_path.read_text, errors="replace")
        fault.real = status == -15 and f"Finished server process [{old}]" in log
    await _restarted(service, fault, old)
    graceful = ", after a graceful shutdown" if fault.planned.kind == "SIGTERM" else ""
    fault.proof = f"pid {old} exited {status}{graceful}, {fault.proof}"


async def _restarted(service: ServiceProcess, fault: Fault, old: int | None) -> None:
    await asyncio.to_thread(service.start)
    await service.wait_healthy(timeout=120)
    fault.real = fault.real and service.pid != old
    fault.proof = f"pid {service.pid} serves"


async def _broker_network(system: System, fault: Fault) -> None:
    proxy = system.broker_proxy
    assert proxy is not None, "the soak's broker is behind a proxy"
    if fault.planned.kind == "broker stall":
        held = proxy.stats.bytes_held
        proxy.stall()
        await asyncio.sleep(fault.planned.seconds)
        live, held = proxy.live_connections, proxy.stats.bytes_held - held
        proxy.resume()
        fault.real = held > 0 and live > 0
        fault.proof = f"{held} bytes held on {live} open connections"
    else:
        before = proxy.stats.connections
        reset = await proxy.reset()
        await asyncio.sleep(1)
        fault.real = reset > 0
        fault.proof = f"{reset} connections reset; {proxy.stats.connections - before} new in 1 s"


# -- observing ------------------------------------------------------------------------------


class Observer:
    """Taps on both topics, opened before the first contact and read in the background."""

    def __init__(self, system: System) -> None:
        self.taps = {
            topic: EventTap(system.bootstrap, topic, fetch_max_wait_ms=500)
            for topic in (CONTACT_EVENTS, SLA_EVENTS)
        }
        self._readers: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Observer:
        for tap in self.taps.values():
            await tap.__aenter__()
        self._readers = [asyncio.create_task(self._read(tap)) for tap in self.taps.values()]
        return self

    async def __aexit__(self, *_: Any) -> None:
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        for tap in self.taps.values():
            await tap.__aexit__()

    @staticmethod
    async def _read(tap: EventTap) -> None:
        assert tap.consumer is not None
        while True:
            try:
                batches = await tap.consumer.getmany(timeout_ms=200, max_records=5000)
            except Exception:  # the broker restarting or reset: the consumer finds it again
                await asyncio.sleep(0.5)
                continue
            for records in batches.values():
                for record in records:
                    tap.raw.append(record)
                    with contextlib.suppress(EventDecodeError):
                        tap.events.append(from_message(record, keep_unknown_values=True))

    async def lag(self, system: System) -> list[str]:
        """The consumer groups that have not committed up to where the taps have read."""
        behind = []
        for group, topics in CONSUMERS.items():
            for topic in topics:
                consumer = self.taps[topic].consumer
                assert consumer is not None
                ends = {}
                for tp in consumer.assignment():
                    end = consumer.highwater(tp)
                    if end is None or await consumer.position(tp) < end:
                        return [f"the tap on {topic} has not reached its end"]
                    ends[tp.partition] = end
                if lag := await system.group_lag(group, topic, ends):
                    behind.append(f"{group} is {lag} messages behind on {topic}")
        return behind


# -- what the system holds ------------------------------------------------------------------


async def metrics_figures(system: System) -> dict[str, float]:
    """metrics-api's counts for the office day, through its public API."""
    day = {"from": OFFICE_DAY.isoformat(), "to": OFFICE_DAY.isoformat()}
    async with system.client("metrics-api") as client:
        waits = await client.get("/v1/calls/wait-times", params={**day, "channel": "phone"})
        channels = await client.get("/v1/channels", params=day)
        kpis = await client.get("/v1/kpis", params=day)
        compliance = await client.get("/v1/sla/compliance", params=day)
    for response in (waits, channels, kpis, compliance):
        response.raise_for_status()
    figures: dict[str, float] = defaultdict(float)
    figures["calls"] = sum(row["offered"] for row in waits.json()["rows"])
    by_channel = {row["channel"]: row["contacts"] for row in channels.json()["rows"]}
    figures["visits"] = by_channel.get("face_to_face", 0)
    figures["enquiries"] = by_channel.get("email", 0)
    by_kpi = {row["kpi"]: row["value"] for row in kpis.json()["rows"]}
    figures["complaints"] = by_kpi.get("complaints-received") or 0
    for row in compliance.json()["rows"]:
        figures[f"{row['commitment']}.met"] = row["met"]
        figures[f"{row['commitment']}.breached"] = row["breached"]
    return figures


async def stored_rows(system: System, contacts: list[Contact]) -> dict[str, list[UUID]]:
    """Contact key → the ids of the rows its API stored for it (more than one: a duplicate)."""
    keys = {c.key for c in contacts}
    found: dict[str, list[UUID]] = defaultdict(list)
    queries = (
        "SELECT id, substr(call_id, 6) AS key FROM enquiry.call_record",
        "SELECT id, substr(visit_id, 7) AS key FROM enquiry.visit",
        "SELECT id, substring(description from '\\(stream (\\w+)\\)') AS key FROM enquiry.enquiry",
        "SELECT id, substring(description from '\\(stream (\\w+)\\)') AS key"
        " FROM complaints.complaint",
    )
    for query in queries:
        for row in await system.sql(query):
            if row["key"] in keys:
                found[row["key"]].append(row["id"])
    return found


@dataclass
class Holdings:
    """What every read model holds of the stream's contacts, by subject."""

    rows: dict[str, list[UUID]]
    clocks: dict[UUID, Counter[tuple[str, str]]]
    counted: dict[UUID, dict[str, str]]
    first_events: dict[UUID, set[UUID]]
    breaches: dict[UUID, dict[str, set[UUID]]]
    figures: dict[str, float]


async def holdings(system: System, observer: Observer, contacts: list[Contact]) -> Holdings:
    """Reads every read model once: the APIs' tables, sla-monitor's clocks, metrics-api's
    counted clocks and public counts, and the two topics as the taps read them."""
    rows = await stored_rows(system, contacts)
    subjects = [s for ids in rows.values() for s in ids]
    clocks: dict[UUID, Counter[tuple[str, str]]] = defaultdict(Counter)
    counted: dict[UUID, dict[str, str]] = defaultdict(dict)
    for row in await system.sql(
        "SELECT c.subject, c.commitment, c.status, m.outcome FROM sla.clock c"
        " LEFT JOIN metrics.counted_clock m ON m.clock_id = c.id WHERE c.subject = ANY($1)",
        subjects,
    ):
        clocks[row["subject"]][(row["commitment"], row["status"])] += 1
        if row["outcome"] is not None:
            counted[row["subject"]][row["commitment"]] = row["outcome"]
    first_events: dict[UUID, set[UUID]] = defaultdict(set)
    for event in observer.taps[CONTACT_EVENTS].events:
        if event.type in FIRST_EVENTS:
            first_events[UUID(event.subject)].add(UUID(str(event.id)))
    breaches: dict[UUID, dict[str, set[UUID]]] = defaultdict(lambda: defaultdict(set))
    for event in observer.taps[SLA_EVENTS].events:
        if event.type == "sla.breached":
            commitment = event.data.commitment  # type: ignore[attr-defined]
            breaches[UUID(event.subject)][commitment].add(UUID(str(event.id)))
    figures = await metrics_figures(system)
    return Holdings(rows, clocks, counted, first_events, breaches, figures)


# -- judging --------------------------------------------------------------------------------


@dataclass
class Verdict:
    """One contact's fate: recorded (2xx, or a failed request whose row exists anyway), lost
    (recorded but missing from a read model), duplicated (anywhere more than once)."""

    contact: Contact
    recorded: bool = False
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    breaches_due: int = 0  # its clocks that missed their deadline
    flagged_once: int = 0  # of those, the ones with exactly one sla.breached


def judge(contact: Contact, held: Holdings) -> Verdict:
    """Every read model holds a recorded contact exactly once, in the state it must end in."""
    verdict = Verdict(contact)
    ids = held.rows.get(contact.key, [])
    verdict.recorded = contact.accepted or bool(ids)
    if not verdict.recorded:
        if contact.idempotent:  # the platform sends it until it is accepted: never dropped
            verdict.lost.append("never accepted")
        return verdict
    if len(ids) > 1:
        verdict.duplicated.append(f"{len(ids)} rows in its API's table")
    subject = contact.subject or (ids[0] if ids else None)
    if not ids or subject is None:
        verdict.lost.append("no row in its API's table")
        return verdict
    events = held.first_events.get(subject, set())
    if not events:
        verdict.lost.append(f"not on {CONTACT_EVENTS}")
    elif len(events) > 1:
        verdict.duplicated.append(f"{len(events)} first events on {CONTACT_EVENTS}")
    clocks = held.clocks.get(subject, Counter())
    breaches = held.breaches.get(subject, {})
    for commitment, status in contact.clocks.items():
        n = sum(k for (c, _), k in clocks.items() if c == commitment)
        if clocks[(commitment, status)] == 0:
            verdict.lost.append(f"sla-monitor: no {status} {commitment} clock")
        if n > 1:
            verdict.duplicated.append(f"{n} {commitment} clocks")
        if status in ("met", "breached") and held.counted[subject].get(commitment) != status:
            verdict.lost.append(f"metrics-api: {commitment} not counted {status}")
        flagged = len(breaches.get(commitment, set()))
        verdict.breaches_due += status == "breached"
        verdict.flagged_once += status == "breached" and flagged == 1
        if status == "breached" and flagged == 0:
            verdict.lost.append(f"no sla.breached for {commitment}")
        elif flagged > (status == "breached"):
            verdict.duplicated.append(f"{flagged} sla.breached for {commitment}")
    return verdict


def figures_problems(
    verdicts: list[Verdict], held: Holdings, baseline: dict[str, float]
) -> list[str]:
    """metrics-api's public counts grew by exactly what was recorded: no more, no fewer."""
    recorded = Counter(v.contact.kind for v in verdicts if v.recorded)
    want = {
        "calls": recorded["call-answered-in-time"]
        + recorded["call-answered-late"]
        + recorded["call-abandoned-late"],
        "visits": recorded["visit-never-seen"] + recorded["visit-seen-in-time"],
        "enquiries": recorded["email-enquiry"],
        "complaints": recorded["complaint"],
        "phone-answer.met": recorded["call-answered-in-time"],
        "phone-answer.breached": recorded["call-answered-late"] + recorded["call-abandoned-late"],
        "reception-attend.met": recorded["visit-seen-in-time"],
        "reception-attend.breached": recorded["visit-never-seen"],
    }
    problems = []
    for key, count in want.items():
        got = held.figures.get(key, 0) - baseline.get(key, 0)
        if got != count:
            problems.append(f"metrics-api {key}: counted {got:g}, recorded {count}")
    return problems


# -- the report -----------------------------------------------------------------------------


@dataclass
class Report:
    """The soak's outcome: its faults, every contact's verdict, every request, the problems."""

    seed: int
    seconds: float
    faults: list[Fault]
    verdicts: list[Verdict]
    attempts: list[Attempt]
    problems: list[str]
    drained_in: float

    def outside(self) -> list[Attempt]:
        """Failed requests (5xx or no answer) outside every window of a fault that may fail
        that service: from the fault's start to RECOVERY seconds after its end."""
        return [
            a
            for a in self.attempts
            if a.failed
            and not any(
                a.service in f.planned.may_fail and f.start <= a.done <= f.end + RECOVERY
                for f in self.faults
            )
        ]

    def fault_at(self, moment: float) -> str:
        """The fault whose span (its start to the next one's) holds `moment`."""
        latest = BEFORE_FAULTS
        for fault in self.faults:
            if fault.start <= moment:
                latest = fault.name
        return latest

    def rows(self) -> list[list[str]]:
        """The table: one row per fault, contacts and failures counted in the fault's spans."""
        names = [BEFORE_FAULTS, *dict.fromkeys(f.name for f in self.faults)]
        counts = Counter(f.name for f in self.faults)
        outside = Counter(self.fault_at(a.sent) for a in self.outside())
        failed = Counter(self.fault_at(a.sent) for a in self.attempts if a.failed)
        by = defaultdict(list)
        for verdict in self.verdicts:
            by[self.fault_at(verdict.contact.created)].append(verdict)
        rows = []
        for name in [*names, "total"]:
            mine = self.verdicts if name == "total" else by[name]
            rows.append(
                [
                    name,
                    str(len(self.faults) if name == "total" else counts[name]),
                    str(sum(v.contact.accepted for v in mine)),
                    str(sum(bool(v.lost) for v in mine)),
                    str(sum(bool(v.duplicated) for v in mine)),
                    f"{sum(v.flagged_once for v in mine)}/{sum(v.breaches_due for v in mine)}",
                    str(sum(failed.values()) if name == "total" else failed[name]),
                    str(sum(outside.values()) if name == "total" else outside[name]),
                ]
            )
        return rows

    def table(self) -> Table:
        """The rows as a Rich table."""
        table = Table(
            title=f"soak: seed {self.seed}, {self.seconds:.0f} s of stream, "
            f"drained in {self.drained_in:.0f} s",
            caption="contacts and failed requests (5xx or no answer) are counted in the span "
            "from a fault's start to the next one's; missing: not in every read model when the "
            "check ended (lost, or still in a consumer's backlog if a group is behind); "
            "breaches: flagged exactly once / due; "
            "outside: failed outside every window of a fault that may fail that service",
        )
        headings = ("fault", "count", "accepted", "missing", "duplicates", "breaches", "failed")
        for heading in (*headings, "outside"):
            table.add_column(heading, justify="left" if heading == "fault" else "right")
        for row in self.rows():
            table.add_row(*row)
        return table

    def render(self, width: int = 110) -> str:
        """The table and the problems as plain text."""
        console = Console(width=width, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
        console.print(self.table())
        for fault in self.faults:
            console.print(f"  {fault.name} ({fault.end - fault.start:.1f} s): {fault.proof}")
        for problem in self.problems:
            console.print(f"  PROBLEM: {problem}", markup=False)
        return console.export_text()


# -- the run --------------------------------------------------------------------------------


async def run_soak(
    system: System,
    *,
    seed: int,
    seconds: float,
    rate: float = RATE,
    say: Callable[[str], None] = print,
) -> Report:
    """Streams `rate` contacts a second for `seconds` while the schedule's faults are injected
    one at a time, then drains (at most DRAIN seconds, or `seconds` if longer) and judges."""
    loop = asyncio.get_running_loop()
    async with Observer(system) as observer:
        baseline = await metrics_figures(system)
        load = await Load(system, rate=rate).start()
        begin = loop.time()
        faults: list[Fault] = []
        try:
            for planned in plan(seed):
                if loop.time() + planned.gap - begin > seconds:
                    break
                await asyncio.sleep(planned.gap)
                faults.append(await inject(system, planned))
                say(f"+{faults[-1].start - begin:5.1f} s  {planned.name}: {faults[-1].proof}")
            await asyncio.sleep(max(seconds - (loop.time() - begin), 0))
        except BaseException:
            await load.finish(retry_for=0)  # no resending: the run has failed
            raise
        await load.finish(retry_for=120)
        stopped = reported = loop.time()
        while True:
            held = await holdings(system, observer, load.contacts)
            verdicts = [judge(c, held) for c in load.contacts]
            problems = figures_problems(verdicts, held, baseline) + await observer.lag(system)
            problems += [f"{v.contact.kind} {v.contact.key}: {v.lost}" for v in verdicts if v.lost]
            if not problems or loop.time() - stopped > max(DRAIN, seconds):
                break
            if loop.time() - reported > 15:  # what a slow drain is waiting for
                reported = loop.time()
                say(f"drain +{reported - stopped:.0f} s, waiting: {problems[:4]}")
            await asyncio.sleep(2)
    report = Report(seed, seconds, faults, verdicts, load.attempts, [], loop.time() - stopped)
    report.problems = (
        problems[:20]
        + [
            f"{v.contact.kind} {v.contact.key}: duplicated: {v.duplicated}"
            for v in verdicts
            if v.duplicated
        ][:20]
    )
    report.problems += [f"fault not proved real: {f.name}: {f.proof}" for f in faults if not f.real]
    report.problems += [f"4xx: {e}" for e in load.client_errors[:5]]
    outside = report.outside()
    if outside:
        first = outside[0]
        report.problems.append(
            f"{len(outside)} failed requests outside the fault windows, the first "
            f"{first.service} {first.status or first.error} at +{first.done - begin:.1f} s"
        )
    return report


def main() -> int:
    """`make soak`: the whole system, SOAK_MINUTES of stream, a table, exit status 1 on any
    problem or on a process left running."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=random.SystemRandom().randrange(10**6))
    parser.add_argument("--rate", type=float, default=RATE, help="contacts a second")
    parser.add_argument(
        "--database-server",
        default=os.environ.get("TEST_DATABASE_URL"),
        help="PostgreSQL server URL (TEST_DATABASE_URL, else 127.0.0.1:5432 as the tests use)",
    )
    arguments = parser.parse_args()
    artifacts = Path(os.environ.get("TEST_ARTIFACTS", "test-artifacts")).resolve()
    shutil.rmtree(artifacts / "soak", ignore_errors=True)  # this run's logs only
    (artifacts / "soak").mkdir(parents=True)
    # The soak's own Kafka clients (its taps) complain through every broker fault: to a file.
    logging.basicConfig(filename=artifacts / "soak" / "soak.log", level=logging.WARNING)
    problems = 1  # until the soak has said otherwise: a Ctrl-C, a failed start
    try:
        problems = asyncio.run(soak_main(arguments, artifacts))
    finally:
        # What soak_main started it stopped, on failure too; anything left is a fault of ours.
        left = psutil.Process().children(recursive=True)
        for child in left:
            print(f"left running: pid {child.pid} {child.cmdline()}; killed")
            with contextlib.suppress(psutil.Error):
                child.kill()
    return 1 if problems or left else 0


async def soak_main(arguments: argparse.Namespace, artifacts: Path) -> int:
    """Starts the system, soaks it, stops it (on failure too); returns the problems found."""
    logs = artifacts / "soak"
    seconds = arguments.minutes * 60
    print(f"soak: seed {arguments.seed}, {seconds:.0f} s at {arguments.rate:g}/s; logs in {logs}")
    system = await start_system(
        arguments.database_server or LOCAL_POSTGRES,
        logs,
        proxy_broker=True,
        proxy_every_database=True,
    )
    try:
        report = await run_soak(system, seed=arguments.seed, seconds=seconds, rate=arguments.rate)
    finally:
        await stop_system(system)
    text = report.render()
    print(text)
    await asyncio.to_thread((artifacts / "soak-summary.txt").write_text, text)
    return len(report.problems)


if __name__ == "__main__":
    sys.exit(main())
