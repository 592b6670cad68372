"""Benchmark 3, outbox relay: commit-to-consumer latency and events/s, against aiokafka direct.

This process commits outbox rows (enquiry.opened events, one per transaction, as intake does)
at a fixed rate and runs enquiry-api's relay (the OutboxRelay enquiry-api runs, with its
settings) as an API process does: its commits wake the relay in the same event loop. A consumer
in a process of its own (bench/kafka_tap.py, the platform's consumer settings,
fetch_max_wait_ms among them) stamps each event as it arrives. Latency: consumer arrival minus
the moment the writer sends COMMIT. Throughput: a backlog of N events committed in one
transaction, from the commit to the last arrival. The baseline sends the same messages
(same key, same bytes, same topic) with the platform's producer settings straight to the
broker, timed from `send()` the same way. Runs on one scratch database, so later repetitions
meet the dead index entries of the rows earlier ones published (until autovacuum)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import uuid4

from aiokafka import AIOKafkaConsumer
from common import (
    BENCH_DIR,
    WORK_DIR,
    broker,
    cpu_seconds,
    log,
    median,
    percentile,
    scratch_database,
)

from contact_common.bus.binding import STRUCTURED_HEADERS
from contact_common.bus.consumer import DEFAULT_FETCH_MAX_WAIT_MS
from contact_common.bus.kafka import create_producer, ensure_topics
from contact_common.bus.relay import OutboxRelay
from contact_common.bus.topics import CONTACT_EVENTS, SLA_EVENTS
from contact_common.db import create_engine, create_session_factory
from contact_common.events import Channel, EnquiryOpened, EnquiryOpenedData, encode_event

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from contact_common.outbox import Outbox

    Sessions = async_sessionmaker[AsyncSession]

# The consumer's longest wait for a fetch to fill: the platform's consumers' own setting
# (EventConsumer's DEFAULT_FETCH_MAX_WAIT_MS, 50 ms). With aiokafka's default of 500 ms the bundled
# broker and the consumer alone put ~130 ms (p50) and ~260 ms (p99) under every event, whoever
# published it. BENCH_FETCH_MAX_WAIT_MS=500 measures with aiokafka's default.
FETCH_MAX_WAIT_MS = int(os.environ.get("BENCH_FETCH_MAX_WAIT_MS", DEFAULT_FETCH_MAX_WAIT_MS))
IDLE_SECONDS = 10


async def idle_fetch_cost(bootstrap: str, broker_pid: int, fetch_max_wait_ms: int) -> float:
    """The broker's CPU (percent of a core) serving one idle consumer group member.

    A shorter fetch_max_wait_ms means more empty fetches while a topic is quiet: this is what
    the platform's setting costs the broker, against aiokafka's 500 ms.
    """
    consumer = AIOKafkaConsumer(
        CONTACT_EVENTS,
        SLA_EVENTS,
        bootstrap_servers=bootstrap,
        group_id=f"bench-idle-{uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="latest",
        fetch_max_wait_ms=fetch_max_wait_ms,
    )
    await consumer.start()
    try:
        while not consumer.assignment():  # the group join: ~5 s on tansu
            await consumer.getmany(timeout_ms=200)
        before = cpu_seconds(broker_pid)
        deadline = time.monotonic() + IDLE_SECONDS
        while time.monotonic() < deadline:
            await consumer.getmany(timeout_ms=1000)
        return (cpu_seconds(broker_pid) - before) / IDLE_SECONDS * 100
    finally:
        await consumer.stop()


def _event(i: int) -> EnquiryOpened:
    return EnquiryOpened.from_data(
        EnquiryOpenedData(
            enquiry_id=uuid4(),
            channel=Channel.web_form,
            service_area="waste",
            received_at=datetime.now(UTC),
            reference=f"ENQ-2026-{i % 1_000_000:06d}",
        ),
        source="/enquiry-api",
    )


class Tap:
    """The consumer process and what it has seen."""

    def __init__(self, bootstrap: str, fetch_max_wait_ms: int = 500) -> None:
        self.path = WORK_DIR / f"tap-{uuid4().hex[:8]}.txt"
        command = [sys.executable, str(BENCH_DIR / "kafka_tap.py"), bootstrap, CONTACT_EVENTS]
        command += [str(self.path), "--fetch-max-wait-ms", str(fetch_max_wait_ms)]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != b"ready":
            raise RuntimeError("the consumer did not start")

    async def arrivals(self, ids: set[str], *, timeout: float = 120) -> dict[str, float]:
        """Waits until every id has arrived (or the timeout); returns id -> arrival time."""
        deadline = time.monotonic() + timeout
        while True:
            seen: dict[str, float] = {}
            if self.path.exists():
                for line in self.path.read_text().splitlines():
                    event_id, _, at = line.partition(" ")
                    if event_id in ids and at:
                        seen[event_id] = float(at)
            if len(seen) >= len(ids) or time.monotonic() > deadline:
                return seen
            await asyncio.sleep(0.25)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.path.unlink(missing_ok=True)


async def _paced(rate: float, count: int, one) -> None:  # noqa: ANN001
    """Starts `one(i)` at t0 + i/rate (open loop) and waits for them all."""
    t0 = time.perf_counter() + 0.05
    tasks = []
    for i in range(count):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)


def _latencies(started: dict[str, float], arrived: dict[str, float]) -> dict:
    values = [(arrived[i] - t) * 1000 if i in arrived else float("inf") for i, t in started.items()]
    return {
        "p50_ms": percentile(values, 50),
        "p99_ms": percentile(values, 99),
        "max_ms": max(values),
        "lost": sum(1 for i in started if i not in arrived),
    }


@contextlib.asynccontextmanager
async def _relay_of(outbox, engine, bootstrap: str):  # noqa: ANN001, ANN202
    """enquiry-api's relay, running in this process until the block ends."""
    relay = OutboxRelay(
        service="enquiry-api", outbox=outbox, engine=engine, bootstrap_servers=bootstrap
    )
    task = asyncio.create_task(relay.run(), name="bench-relay")
    try:
        yield relay
    finally:
        relay.stop()
        await task


async def run(*, repeat: int, quick: bool) -> dict:
    """Runs the relay benchmark `repeat` times; returns the figures and their medians."""
    rate = 200.0
    seconds = 8 if quick else 15
    backlog = 10_000 if quick else 20_000
    runs: list[dict] = []
    with broker() as dev:
        bootstrap = dev.bootstrap_servers
        await ensure_topics(bootstrap)
        async with scratch_database("relay", service="enquiry-api") as url:
            from enquiry_api.models import load_all_tables, outbox

            load_all_tables()
            engine = create_engine(url, schema="enquiry")
            session_factory = create_session_factory(engine)
            producer = create_producer(bootstrap, client_id="bench-direct")
            await producer.start()
            tap = Tap(bootstrap, FETCH_MAX_WAIT_MS)
            try:
                async with _relay_of(outbox, engine, bootstrap):
                    for rep in range(repeat):
                        runs.append(
                            await _repetition(
                                rep + 1,
                                repeat,
                                outbox,
                                session_factory,
                                producer,
                                tap,
                                rate=rate,
                                seconds=seconds,
                                backlog=backlog,
                            )
                        )
            finally:
                tap.stop()
                await producer.stop()
                await engine.dispose()
        log(f"relay: broker CPU with one idle consumer, {IDLE_SECONDS}s each setting")
        assert dev.process is not None
        idle_cost = {
            wait: await idle_fetch_cost(bootstrap, dev.process.pid, wait)
            for wait in (FETCH_MAX_WAIT_MS, 500)
        }
    return _result(runs, rate=rate, idle_cost=idle_cost)


async def _repetition(
    number: int,
    repeat: int,
    outbox: Outbox,
    session_factory: Sessions,
    producer: AIOKafkaProducer,
    tap: Tap,
    *,
    rate: float,
    seconds: float,
    backlog: int,
) -> dict:
    """Latency at `rate` and events/s draining `backlog`, via the outbox and aiokafka direct."""
    which = f"{number}/{repeat}"
    log(f"relay {which}: {rate:.0f} events/s for {seconds}s, relay")
    relay_latency = await _outbox_latency(outbox, session_factory, tap, rate, seconds)
    log(f"relay {which}: the same, aiokafka direct")
    direct_latency = await _direct_latency(producer, tap, rate, seconds)
    log(f"relay {which}: a backlog of {backlog:,} committed at once")
    relay_eps, backlog_arrived = await _outbox_drain(outbox, session_factory, tap, backlog)
    direct_eps = await _direct_drain(producer, tap, backlog)
    log(
        f"relay {number}: p50/p99 {relay_latency['p50_ms']:.0f}/"
        f"{relay_latency['p99_ms']:.0f} ms "
        f"(direct {direct_latency['p50_ms']:.0f}/"
        f"{direct_latency['p99_ms']:.0f}); {relay_eps:,.0f} events/s "
        f"(direct {direct_eps:,.0f})"
    )
    return {
        "relay_latency": relay_latency,
        "direct_latency": direct_latency,
        "relay_eps": relay_eps,
        "direct_eps": direct_eps,
        "backlog": backlog,
        "backlog_arrived": backlog_arrived,
    }


async def _outbox_latency(
    outbox: Outbox, session_factory: Sessions, tap: Tap, rate: float, seconds: float
) -> dict:
    """One event per transaction at `rate`, open loop: COMMIT → consumer arrival."""
    committed: dict[str, float] = {}

    async def via_outbox(i: int) -> None:
        event = _event(i)
        async with session_factory() as session, session.begin():
            await outbox.add(session, event)
            # Stamped as COMMIT is sent, as the baseline stamps before send(): stamped after
            # COMMIT returns, a busy writer (200 tasks) saw events arrive "before" their commit
            # (p50 below zero).
            committed[str(event.id)] = time.time()

    await _paced(rate, int(rate * seconds), via_outbox)
    return _latencies(committed, await tap.arrivals(set(committed)))


async def _direct_latency(
    producer: AIOKafkaProducer, tap: Tap, rate: float, seconds: float
) -> dict:
    """The same messages sent straight to the broker at `rate`: send() → consumer arrival."""
    sent: dict[str, float] = {}

    async def direct(i: int) -> None:
        event = _event(i)
        sent[str(event.id)] = time.time()
        await producer.send(
            CONTACT_EVENTS,
            value=encode_event(event),
            key=event.subject.encode(),
            headers=list(STRUCTURED_HEADERS),
        )

    await _paced(rate, int(rate * seconds), direct)
    return _latencies(sent, await tap.arrivals(set(sent)))


async def _outbox_drain(
    outbox: Outbox, session_factory: Sessions, tap: Tap, backlog: int
) -> tuple[float, int]:
    """`backlog` events committed in one transaction: events/s to the last arrival, arrived."""
    events = [_event(i) for i in range(backlog)]
    async with session_factory() as session, session.begin():
        await outbox.add_many(session, events)
    commit = time.time()
    arrived = await tap.arrivals({str(e.id) for e in events})
    return len(arrived) / (max(arrived.values()) - commit), len(arrived)


async def _direct_drain(producer: AIOKafkaProducer, tap: Tap, backlog: int) -> float:
    """The same backlog sent straight to the broker: events/s to the last arrival."""
    events = [_event(i) for i in range(backlog)]
    payloads = [(encode_event(e), e.subject.encode()) for e in events]
    start = time.time()
    futures = [
        await producer.send(
            CONTACT_EVENTS,
            value=value,
            key=key,
            headers=list(STRUCTURED_HEADERS),
        )
        for value, key in payloads
    ]
    await asyncio.gather(*futures)
    arrived = await tap.arrivals({str(e.id) for e in events})
    return len(arrived) / (max(arrived.values()) - start)


def _result(runs: list[dict], *, rate: float, idle_cost: dict[int, float]) -> dict:
    """The rows against the goals and the diagnostics, from every repetition's figures."""

    def med(key: str, field: str | None = None) -> float:
        return median([r[key][field] if field else r[key] for r in runs])

    p99 = med("relay_latency", "p99_ms")
    relay_eps, direct_eps = med("relay_eps"), med("direct_eps")
    ratio = relay_eps / direct_eps
    return {
        "name": "relay",
        "rows": [
            {
                "benchmark": "3. Outbox relay",
                "measure": f"commit → consumer latency at {rate:.0f} events/s, p50 / p99 "
                f"(consumer fetch_max_wait_ms {FETCH_MAX_WAIT_MS})",
                "value": f"{med('relay_latency', 'p50_ms'):.0f} / {p99:.0f} ms",
                "baseline": f"{med('direct_latency', 'p50_ms'):.0f} / "
                f"{med('direct_latency', 'p99_ms'):.0f} ms (aiokafka send → consumer)",
                "ratio": "",
                "goal": "p99 < 100 ms",
                "met": p99 < 100,
            },
            {
                "benchmark": "3. Outbox relay",
                "measure": "events/s draining a backlog (commit → last arrival)",
                "value": f"{relay_eps:,.0f} events/s",
                "baseline": f"{direct_eps:,.0f} events/s (aiokafka direct)",
                "ratio": f"{ratio:.0%}",
                "goal": "≥ 50% of direct",
                "met": ratio >= 0.5,
            },
        ],
        "runs": runs,
        "extra": [
            "broker CPU serving one idle consumer (two topics, 12 partitions), "
            + ", ".join(
                f"fetch_max_wait_ms {wait}: {cost:.1f}% of a core"
                for wait, cost in idle_cost.items()
            ),
            "events lost (not seen by the consumer within 120 s), relay / direct: "
            + ", ".join(
                f"{r['relay_latency']['lost']}/{r['direct_latency']['lost']}" for r in runs
            ),
            "max latency, relay / direct (ms): "
            + ", ".join(
                f"{r['relay_latency']['max_ms']:.0f}/{r['direct_latency']['max_ms']:.0f}"
                for r in runs
            ),
        ],
    }
