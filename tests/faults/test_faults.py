"""Faults injected into the whole running system under a steady stream of contacts.

Each test runs stream → fault → recovery → drain → assertions on one shared system (four
service processes, PostgreSQL, a broker on S3 storage), and proves both that its fault was real
and that, after it, every accepted contact reached every consumer, every breach that fell due
was flagged exactly once, no stream stalled, and no API failed for longer than the fault lasted.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import pytest
from load import Load
from stack import CONSUMERS, OFFICE_DAY, System

from contact_common.bus.topics import CONTACT_EVENTS, SLA_EVENTS
from contact_common.events import decode_event
from contact_devtools.testing import EventTap

pytestmark = pytest.mark.e2e

RATE = 6.0  # contacts a second: steady, and light enough for a shared 2-core machine
BEFORE = 2.5  # seconds of stream before the fault
AFTER = 3.0  # and after it ends
RECOVERY = 5.0  # seconds after a fault ends in which an API may still fail
DRAIN = 120.0  # the bound within which everything accepted must have reached every consumer


@dataclass
class Fault:
    """When a fault was injected and undone, on the event loop's clock, and what proved it."""

    name: str
    start: float = 0.0
    end: float = 0.0
    proof: list[str] = field(default_factory=list)

    def begin(self) -> None:
        self.start = asyncio.get_running_loop().time()

    def finish(self) -> None:
        self.end = asyncio.get_running_loop().time()

    @property
    def lasted(self) -> float:
        return self.end - self.start


class Observer:
    """Independent taps on both topics, opened before the first contact was sent and read
    continuously in the background (a tap read only when checked would lag the consumers)."""

    def __init__(self, contacts: Tap, sla: Tap) -> None:
        self.contacts = contacts
        self.sla = sla
        self.errors: list[str] = []
        self._readers = [asyncio.create_task(self._read(tap)) for tap in (contacts, sla)]

    async def _read(self, tap: Tap) -> None:
        assert tap.consumer is not None
        while True:
            try:
                batches = await tap.consumer.getmany(timeout_ms=200, max_records=5000)
                for records in batches.values():
                    for record in records:
                        tap.raw.append(record)
                        tap.events.append(decode_event(record.value))
            except Exception as exc:  # the broker restarting: the consumer finds it again
                self.errors.append(f"{tap.topic}: {type(exc).__name__}: {exc}")
                print(f"tap error {self.errors[-1]}")
                await asyncio.sleep(0.5)

    async def close(self) -> None:
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)

    async def ends(self, tap: Tap) -> dict[int, int] | None:
        """Each partition's end, once the tap has read up to it; None if it has not yet."""
        assert tap.consumer is not None
        ends = {}
        for tp in tap.consumer.assignment():
            highwater = tap.consumer.highwater(tp)
            if highwater is None or await tap.consumer.position(tp) < highwater:
                return None
            ends[tp.partition] = highwater
        return ends


class Tap(EventTap):
    """contact_devtools.testing.EventTap with aiokafka's default fetch wait (500 ms): on tansu's S3
    storage each idle fetch costs the store work. The observer reads it in the background."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(bootstrap, topic, fetch_max_wait_ms=500)


@pytest.fixture(scope="module")
async def observer(system: System) -> Any:
    async with (
        Tap(system.bootstrap, CONTACT_EVENTS) as contacts,
        Tap(system.bootstrap, SLA_EVENTS) as sla,
    ):
        observer = Observer(contacts, sla)
        try:
            yield observer
        finally:
            await observer.close()


# -- what the system says -------------------------------------------------------------------


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
    for row in waits.json()["rows"]:
        figures["calls"] += row["offered"]
    by_channel = {row["channel"]: row["contacts"] for row in channels.json()["rows"]}
    figures["visits"] = by_channel.get("face_to_face", 0)
    figures["enquiries"] = by_channel.get("email", 0)
    by_kpi = {row["kpi"]: row["value"] for row in kpis.json()["rows"]}
    figures["complaints"] = by_kpi.get("complaints-received") or 0
    for row in compliance.json()["rows"]:
        figures[f"{row['commitment']}.met"] = row["met"]
        figures[f"{row['commitment']}.breached"] = row["breached"]
    return figures


async def unpublished_outbox_rows(system: System) -> int:
    """Events the two APIs have recorded and not yet handed to the broker."""
    rows = await system.sql(
        "SELECT (SELECT count(*) FROM enquiry.outbox_message WHERE published_at IS NULL)"
        " + (SELECT count(*) FROM complaints.outbox_message WHERE published_at IS NULL)"
    )
    return int(rows[0][0])


async def process_started_at(system: System, name: str) -> float:
    """The serving process's start time, from its Prometheus /metrics."""
    async with system.client(name) as client:
        text = (await client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith("process_start_time_seconds"):
            return float(line.split()[-1])
    raise AssertionError(f"{name} /metrics has no process_start_time_seconds")


# -- one fault, end to end ------------------------------------------------------------------


@dataclass
class Outcome:
    """What the checks found after one fault."""

    problems: list[str] = field(default_factory=list)
    delivered_tap: int = 0
    delivered_sla: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    breaches_due: int = 0
    flagged: int = 0
    duplicates: int = 0
    redelivered: int = 0
    drained_in: float = 0.0


async def check_delivery(
    system: System, observer: Observer, load: Load, baseline: dict[str, float], outcome: Outcome
) -> list[str]:
    """Everything that must hold once the system has drained; the problems still open."""
    problems: list[str] = []
    accepted = [c for c in load.contacts if c.accepted]
    subjects = {c.subject for c in accepted}

    seen = {
        UUID(e.subject)
        for e in observer.contacts.events
        if e.type.startswith(
            ("call.offered", "visit.arrived", "enquiry.opened", "complaint.received")
        )
    }
    outcome.delivered_tap = len(subjects & seen)
    if outcome.delivered_tap < len(subjects):
        problems.append(f"tap: {len(subjects - seen)} accepted contacts not on {CONTACT_EVENTS}")

    rows = await system.sql(
        "SELECT subject, commitment, status FROM sla.clock WHERE subject = ANY($1::uuid[])",
        list(subjects),
    )
    clocks = {(r["subject"], r["commitment"]): r["status"] for r in rows}
    expected = {(c.subject, k): v for c in accepted for k, v in c.clocks.items()}
    outcome.delivered_sla = sum(all((c.subject, k) in clocks for k in c.clocks) for c in accepted)
    wrong = {k: (v, clocks.get(k)) for k, v in expected.items() if clocks.get(k) != v}
    if wrong:
        problems.append(
            f"sla-monitor: {len(wrong)} clocks not as expected, e.g. {list(wrong.items())[:3]}"
        )

    flagged: dict[tuple[UUID, str], set[UUID]] = defaultdict(set)
    raw = 0
    for event in observer.sla.events:
        if event.type == "sla.breached" and UUID(event.subject) in subjects:
            flagged[(UUID(event.subject), event.data.commitment)].add(event.id)  # type: ignore[attr-defined]
            raw += 1
    due = {k for k, v in expected.items() if v == "breached"}
    outcome.breaches_due, outcome.flagged = len(due), len(set(flagged) & due)
    outcome.duplicates = sum(len(ids) - 1 for ids in flagged.values())
    outcome.redelivered = raw - sum(len(ids) for ids in flagged.values())
    if set(flagged) != due:
        problems.append(
            f"sla.breached: {len(due - set(flagged))} due and not flagged, "
            f"{len(set(flagged) - due)} flagged and not due"
        )
    if outcome.duplicates:
        problems.append(f"sla.breached: {outcome.duplicates} clocks flagged more than once")

    figures = await metrics_figures(system)
    delta = {k: figures.get(k, 0) - baseline.get(k, 0) for k in set(figures) | set(baseline)}
    outcome.metrics = delta

    def count(*kinds: str) -> int:
        return sum(1 for c in accepted if c.kind in kinds)

    def unknown(kind: str) -> int:
        return sum(
            c.unknown_outcomes > 0 and not c.accepted for c in load.contacts if c.kind == kind
        )

    exact = {
        "calls": count("call-answered-in-time", "call-answered-late", "call-abandoned-late"),
        "visits": count("visit-never-seen", "visit-seen-in-time"),
        "phone-answer.met": count("call-answered-in-time"),
        "phone-answer.breached": count("call-answered-late", "call-abandoned-late"),
        "reception-attend.met": count("visit-seen-in-time"),
        "reception-attend.breached": count("visit-never-seen"),
    }
    for key, want in exact.items():
        if delta.get(key, 0) != want:
            problems.append(f"metrics-api {key}: counted {delta.get(key, 0):g}, sent {want}")
    for key, kind in (("enquiries", "email-enquiry"), ("complaints", "complaint")):
        low = count(kind)
        high = low + unknown(kind)
        if not low <= delta.get(key, 0) <= high:
            problems.append(f"metrics-api {key}: counted {delta.get(key, 0):g}, sent {low}..{high}")

    for group, topics in CONSUMERS.items():
        for topic in topics:
            tap = observer.contacts if topic == CONTACT_EVENTS else observer.sla
            ends = await observer.ends(tap)
            if ends is None:
                problems.append(f"tap on {topic} not at its end yet")
                continue
            lag = await system.group_lag(group, topic, ends)
            if lag:
                problems.append(f"{group} is {lag} messages behind on {topic}")
    return problems


async def exercise(
    system: System,
    observer: Observer,
    summary: list[str],
    fault: Fault,
    inject: Callable[[Fault, Load], Awaitable[None]],
    *,
    may_fail: set[str],
) -> Outcome:
    """Stream → fault → recovery → drain → checks; adds the fault's row to the summary."""
    loop = asyncio.get_running_loop()
    baseline = await metrics_figures(system)
    load = await Load(system, rate=RATE).start()
    await asyncio.sleep(BEFORE)
    await inject(fault, load)
    assert fault.end >= fault.start > 0, "the inject step must call begin() and finish()"
    await asyncio.sleep(AFTER)
    await load.finish()
    stopped = loop.time()

    outcome = Outcome()
    reported = stopped
    while True:
        problems = await check_delivery(system, observer, load, baseline, outcome)
        if not problems or loop.time() - stopped > DRAIN:
            break
        if loop.time() - reported > 10:  # shown with -s: what a slow drain is waiting for
            reported = loop.time()
            print(f"\n{fault.name}: +{reported - stopped:.0f} s, waiting: {problems}")
        await asyncio.sleep(1.0)
    outcome.drained_in = loop.time() - stopped
    outcome.problems = problems
    if problems:
        outcome.problems = [f"not drained within {DRAIN:.0f} s: {p}" for p in problems]

    not_accepted = [c for c in load.contacts if c.idempotent and not c.accepted]
    if not_accepted:
        outcome.problems.append(f"{len(not_accepted)} calls/visits never accepted on resending")
    if load.client_errors:
        outcome.problems.append(f"4xx answers: {load.client_errors[:3]}")

    longest = 0.0
    failures = 0
    for service in system.services:
        kinds = Counter(
            a.error or str(a.status) for a in load.attempts if a.service == service and a.failed
        )
        if kinds:
            fault.proof.append(f"{service} failed answers: {dict(kinds)}")
        for first, last, n in load.failure_windows(service):
            failures += n
            longest = max(longest, last - first)
        # A failure counts against the fault if its answer (or the lack of one) came while the
        # fault lasted or within RECOVERY after it; a request sent just before still may fail.
        failed = [a for a in load.attempts if a.service == service and a.failed]
        if failed and service not in may_fail:
            outcome.problems.append(
                f"{service}: {len(failed)} failed answers during {fault.name}, which must not "
                f"fail its requests: {dict(kinds)}"
            )
        outside = [a for a in failed if not fault.start <= a.done <= fault.end + RECOVERY]
        if outside and service in may_fail:
            outcome.problems.append(
                f"{service}: {len(outside)} failed answers outside the fault's window, from "
                f"+{outside[0].done - fault.start:.1f} s to "
                f"+{outside[-1].done - fault.start:.1f} s; the fault lasted "
                f"{fault.lasted:.1f} s (+{RECOVERY:.0f} s to recover)"
            )

    sent = len(load.contacts)
    accepted = sum(c.accepted for c in load.contacts)
    unknown = sum(c.unknown_outcomes > 0 and not c.accepted for c in load.contacts)
    metrics_seen = int(
        sum(outcome.metrics.get(k, 0) for k in ("calls", "visits", "enquiries", "complaints"))
    )
    if not summary:
        summary.extend(
            [
                f"{'fault':<24}{'lasted':>7}{'sent':>6}{'acc.':>6}{'unkn':>5}{'tap':>6}{'sla':>6}"
                f"{'metr':>6}{'due':>5}{'flag':>5}{'dup':>4}{'5xx':>5}{'worst':>7}{'drain':>7}",
                "(lasted, worst 5xx/no-answer window and drain in seconds; tap/sla/metr = "
                "accepted contacts found on contact.events, in sla-monitor's clocks, in "
                "metrics-api's counts)",
            ]
        )
    first_line = len(summary)
    summary.append(
        f"{fault.name:<24}{fault.lasted:>7.1f}{sent:>6}{accepted:>6}{unknown:>5}"
        f"{outcome.delivered_tap:>6}{outcome.delivered_sla:>6}{metrics_seen:>6}"
        f"{outcome.breaches_due:>5}{outcome.flagged:>5}{outcome.duplicates:>4}{failures:>5}"
        f"{longest:>7.1f}{outcome.drained_in:>7.1f}"
    )
    summary.append(f"    proof: {'; '.join(fault.proof)}")
    if outcome.redelivered:
        summary.append(f"    {outcome.redelivered} sla.breached redelivered with the same id")
    print("\n" + "\n".join([summary[0], *summary[first_line:]]))
    assert not outcome.problems, "\n".join(outcome.problems)
    return outcome


def requests_during(load: Load, fault: Fault, service: str) -> list[Any]:
    """The stream's answers from `service` to requests sent while the fault lasted."""
    return [a for a in load.attempts if a.service == service and fault.start <= a.sent <= fault.end]


# -- the faults -----------------------------------------------------------------------------


async def test_broker_stopped_and_restarted(
    system: System, observer: Observer, fault_summary: list[str]
) -> None:
    fault = Fault("broker restart")
    waiting: list[int] = []

    async def inject(fault: Fault, load: Load) -> None:
        fault.begin()
        await asyncio.to_thread(system.broker.stop)
        await asyncio.sleep(4)
        waiting.append(await unpublished_outbox_rows(system))
        await asyncio.sleep(1)
        await asyncio.to_thread(system.broker.start)
        fault.finish()
        accepted = [
            a
            for s in ("enquiry-api", "complaints-api")
            for a in requests_during(load, fault, s)
            if a.status is not None and a.status < 300
        ]
        fault.proof.append(f"{waiting[0]} outbox rows waited while the broker was down")
        fault.proof.append(f"{len(accepted)} requests accepted during the outage")
        assert waiting[0] > 0, "with the broker down, new events must wait in the outbox"
        assert accepted, "requests must succeed while the broker is down"

    await exercise(system, observer, fault_summary, fault, inject, may_fail=set())


@pytest.mark.parametrize("name", ["enquiry-api", "complaints-api", "sla-monitor", "metrics-api"])
async def test_service_killed_and_restarted(
    system: System, observer: Observer, fault_summary: list[str], name: str
) -> None:
    service = system.services[name]
    fault = Fault(f"kill -9 {name}")

    async def inject(fault: Fault, load: Load) -> None:
        old_pid = service.pid
        assert old_pid is not None
        old_started = await process_started_at(system, name)
        fault.begin()
        status = await asyncio.to_thread(service.kill)
        assert status == -9, f"{name} exited {status}, not by SIGKILL"
        with pytest.raises(ProcessLookupError):  # gone, and reaped: no such process
            os.kill(old_pid, 0)
        await asyncio.to_thread(service.start)
        await service.wait_healthy(timeout=90)
        fault.finish()
        new_started = await process_started_at(system, name)
        assert service.pid != old_pid and new_started > old_started
        fault.proof.append(
            f"pid {old_pid} killed (exit {status}), pid {service.pid} serves "
            f"(process start time +{new_started - old_started:.1f} s)"
        )

    # The killed service's own requests fail while it is gone (connections refused), within
    # the fault's window; the other services must not notice.
    await exercise(system, observer, fault_summary, fault, inject, may_fail={name})


async def test_database_connection_stalls(
    system: System, observer: Observer, fault_summary: list[str]
) -> None:
    fault = Fault("enquiry db stall 5 s")
    proxy = system.proxy

    async def inject(fault: Fault, load: Load) -> None:
        held_before = proxy.stats.bytes_held
        resets_before = proxy.stats.resets
        fault.begin()
        proxy.stall()
        await asyncio.sleep(5)
        live = proxy.live_connections
        held = proxy.stats.bytes_held - held_before
        proxy.resume()
        fault.finish()
        # The requests sent in the stall's first half had to wait for its end.
        await asyncio.sleep(2)
        early = [
            a
            for a in requests_during(load, fault, "enquiry-api")
            if a.sent < fault.start + 2 and a.status is not None
        ]
        waited = max((a.done - a.sent for a in early), default=0.0)
        fault.proof.append(
            f"{held} bytes held on {live} open connections; requests waited up to {waited:.1f} s"
        )
        assert held > 0 and live > 0 and proxy.stats.resets == resets_before
        assert waited >= 2.5, "requests sent during the stall must have waited for it"

    await exercise(system, observer, fault_summary, fault, inject, may_fail={"enquiry-api"})


async def test_database_connections_reset(
    system: System, observer: Observer, fault_summary: list[str]
) -> None:
    fault = Fault("enquiry db reset (RST)")
    proxy = system.proxy

    async def inject(fault: Fault, load: Load) -> None:
        opened_before = proxy.stats.connections
        fault.begin()
        first = await proxy.reset()
        await asyncio.sleep(1.5)
        second = await proxy.reset()
        fault.finish()
        await asyncio.sleep(2)
        reopened = proxy.stats.connections - opened_before
        fault.proof.append(
            f"{first} + {second} connections reset with RST; {reopened} new connections since"
        )
        assert first > 0 and second > 0 and reopened > 0

    await exercise(system, observer, fault_summary, fault, inject, may_fail={"enquiry-api"})


async def test_postgresql_restarted(
    system: System, observer: Observer, fault_summary: list[str]
) -> None:
    # The machine's shared server: other work on it notices for a few seconds.
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    fault = Fault("postgresql restart")

    async def inject(fault: Fault, load: Load) -> None:
        before = (await system.sql("SELECT pg_postmaster_start_time()"))[0][0]
        fault.begin()
        restart = await asyncio.create_subprocess_exec(
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            version,
            "main",
            "restart",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await restart.communicate()
        fault.finish()
        assert restart.returncode == 0, stderr.decode()
        after = (await system.sql("SELECT pg_postmaster_start_time()"))[0][0]
        await asyncio.sleep(1)
        hit = [
            a
            for s in system.services
            for a in requests_during(load, fault, s)
            if a.failed or a.done - a.sent > 1.0
        ]
        fault.proof.append(
            f"postmaster started {before:%H:%M:%S} → {after:%H:%M:%S}; "
            f"{len(hit)} requests failed or waited > 1 s during the restart"
        )
        assert after > before
        assert hit, "a restart of the database must have been felt by some request"

    await exercise(system, observer, fault_summary, fault, inject, may_fail=set(system.services))
