"""Benchmark of sla-monitor (not a test): throughput, breach-flagging delay, memory.

    .tools/bin/uv run python services/sla-monitor/bench/bench_sla.py [--events 100000]
        [--profile backlog.html]

Starts a broker of its own (the bundled tansu) and a fresh PostgreSQL database on
127.0.0.1:5432, runs one service instance in this process, and reports:

1. events/s consumed and evaluated: a backlog of call.offered + call.answered pairs (each starts
   two clocks and stops both, publishing two sla.met) is put on contact.events first; the clock
   runs from the first handled batch to the consumer's lag reaching 0 on every partition. The
   CPU used meanwhile by this process and by PostgreSQL's backends of the run's database is
   printed too (per 1,000 events), and `--profile` writes a pyinstrument profile of it.
2. the p50/p99/max delay from a deadline to its sla.breached being read back from sla.events,
   for a stream of calls never answered, with 100,000 and then 1,000,000 other clocks open
   (inserted directly into PostgreSQL, due far in the future, as the open population).
3. the process's resident memory with 100,000 and with 1,000,000 clocks open.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time as wall
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from pyinstrument import Profiler

from contact_common.bus.kafka import create_producer, ensure_topics
from contact_common.bus.topics import CONTACT_EVENTS, SLA_EVENTS
from contact_common.events import decode_event
from contact_common.migrations import upgrade
from contact_devtools.broker import DevBroker
from contact_devtools.testing import LiveServer
from sla_monitor.config import Settings
from sla_monitor.main import create_app
from sla_monitor.timekeeping import SystemClock

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from upstream_events import Call, london, publish, wait_until  # noqa: E402

SERVICE_DIR = Path(__file__).resolve().parents[1]
POSTGRES = "postgresql://postgres@127.0.0.1:5432"
OFFICE_OPEN = london(date(2026, 6, 3), time(9, 5))


def rss_mib() -> float:
    """This process's resident set size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds_of(pids: list[int]) -> dict[int, float]:
    """CPU seconds so far (user and system) of each of these processes still running here."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone, or PostgreSQL runs on another machine
        seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


async def postgres_cpu_seconds(dsn: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to the run's database."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return cpu_seconds_of([row["pid"] for row in rows])


def process_cpu_seconds() -> float:
    """CPU seconds used so far by this process (user and system)."""
    times = os.times()
    return times.user + times.system


async def caught_up(app, partitions: int) -> bool:  # type: ignore[no-untyped-def]
    tps = [TopicPartition(CONTACT_EVENTS, p) for p in range(partitions)]
    return all([await app.state.consumer.lag(tp) == 0 for tp in tps])


async def open_population(dsn: str, target: int) -> None:
    """Tops the open clocks up to `target`: pending, due in a year, on every partition."""
    connection = await asyncpg.connect(dsn)
    try:
        have = await connection.fetchval("SELECT count(*) FROM sla.clock WHERE status='pending'")
        missing = target - have
        if missing > 0:
            await connection.execute(
                """
                INSERT INTO sla.clock (id, commitment, subject, sequence, partition, contact_type,
                    channel, service_area, stage, started_at, due_at, at_risk_at, status,
                    at_risk_published)
                SELECT gen_random_uuid(), 'letter-respond', gen_random_uuid(), 0, n % 6,
                    'enquiry', 'letter', 'waste', NULL, now(), now() + interval '365 days',
                    now() + interval '300 days', 'pending', false
                FROM generate_series(1, $1) AS n
                """,
                missing,
            )
            await connection.execute("ANALYZE sla.clock")
    finally:
        await connection.close()


async def breach_delays(
    bootstrap: str, producer, clock: SystemClock, *, calls: int, per_second: float
) -> list[float]:  # type: ignore[no-untyped-def]
    """Offers calls never answered; seconds from each deadline to its breach on the topic."""
    tap = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await tap.start()
    tps = [TopicPartition(SLA_EVENTS, p) for p in sorted(tap.partitions_for_topic(SLA_EVENTS))]
    tap.assign(tps)
    await tap.seek_to_end(*tps)
    for tp in tps:
        await tap.position(tp)
    due: dict[str, datetime] = {}
    delays: list[float] = []

    async def offer() -> None:
        for _ in range(calls):
            call = Call(clock.now())
            due[str(call.id)] = call.offered_at + timedelta(seconds=15)
            await publish(producer, [call.offered()])
            await asyncio.sleep(1 / per_second)

    offering = asyncio.create_task(offer())
    deadline = wall.monotonic() + calls / per_second + 120
    while len(delays) < calls and wall.monotonic() < deadline:
        batches = await tap.getmany(timeout_ms=200)
        now = clock.now()
        for records in batches.values():
            for record in records:
                event = decode_event(record.value)
                if (
                    event.type == "sla.breached"
                    and event.subject in due
                    and event.data.commitment == "phone-answer"  # type: ignore[attr-defined]
                ):
                    delays.append((now - due[event.subject]).total_seconds())
    await offering
    await tap.stop()
    return delays


def describe(delays: list[float]) -> str:
    ordered = sorted(delays)
    p99 = ordered[max(int(len(ordered) * 0.99) - 1, 0)]
    return (
        f"{len(ordered)} breaches: p50 {statistics.median(ordered) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"
    )


async def main(
    events: int, stream_calls: int, per_second: float, profile: Path | None = None
) -> None:
    broker = DevBroker(log_path=Path("/tmp/bench-sla-broker.log")).start()
    name = f"bench_sla_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{POSTGRES}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    try:
        bootstrap = broker.bootstrap_servers
        await ensure_topics(bootstrap)
        await upgrade(SERVICE_DIR, url)
        clock = SystemClock(OFFICE_OPEN - datetime.now(UTC))
        producer = create_producer(bootstrap, client_id="bench")
        await producer.start()

        # 1. The backlog, published before the service starts.
        pairs = events // 2
        started = wall.monotonic()
        chunk = []
        for _ in range(pairs):
            call = Call(clock.now())
            chunk += [call.offered(), call.answered(timedelta(seconds=5))]
            if len(chunk) >= 5000:
                await publish(producer, chunk)
                chunk = []
        await publish(producer, chunk)
        print(f"published {pairs * 2} events in {wall.monotonic() - started:.1f}s")

        settings = Settings(
            database_url=url,
            kafka_bootstrap_servers=bootstrap,
            api_keys_file=Path("/tmp/bench-sla-keys.json"),
            log_json=True,
            log_level="WARNING",
            consumer_group="sla-bench",
        )
        app = create_app(settings, clock=clock)
        async with LiveServer(app):

            async def owned() -> bool:
                return bool(app.state.timers.owned)

            await wait_until(owned, timeout=120, what="the partitions")
            dsn = url.replace("+asyncpg", "")
            profiler = Profiler(async_mode="disabled") if profile else None
            postgres_before = await postgres_cpu_seconds(dsn)
            cpu_before = process_cpu_seconds()
            if profiler is not None:
                profiler.start()
            first = wall.monotonic()
            await wait_until(lambda: caught_up(app, 6), timeout=3600, what="the backlog")
            seconds = wall.monotonic() - first
            if profiler is not None:
                profiler.stop()
            cpu = process_cpu_seconds() - cpu_before
            postgres_after = await postgres_cpu_seconds(dsn)
            postgres = sum(
                spent - postgres_before.get(pid, 0.0) for pid, spent in postgres_after.items()
            )
            print(
                f"throughput: {pairs * 2} events consumed and evaluated in {seconds:.1f}s "
                f"= {pairs * 2 / seconds:,.0f} events/s (one instance)"
            )
            print(
                f"CPU meanwhile: this process {cpu:.1f}s ({cpu / seconds:.2f} cores, "
                f"{cpu / (pairs * 2) * 1e6:.0f} ms per 1,000 events); PostgreSQL backends "
                f"{postgres:.1f}s ({postgres / (pairs * 2) * 1e6:.0f} ms per 1,000 events)"
            )
            if profiler is not None and profile is not None:
                await asyncio.to_thread(profile.write_text, profiler.output_html())
                print(f"profile of the backlog written to {profile}")

            for population in (100_000, 1_000_000):
                await open_population(url.replace("+asyncpg", ""), population)
                delays = await breach_delays(
                    bootstrap, producer, clock, calls=stream_calls, per_second=per_second
                )
                print(
                    f"{population:,} clocks open: {describe(delays)}; "
                    f"RSS {rss_mib():.0f} MiB; timers in memory {len(app.state.timers._heap)}"
                )
        await producer.stop()
    finally:
        broker.stop()
        admin = await asyncpg.connect(f"{POSTGRES}/postgres")
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--stream-calls", type=int, default=300)
    parser.add_argument("--per-second", type=float, default=20)
    parser.add_argument(
        "--profile", type=Path, help="write a pyinstrument profile (HTML) of the backlog here"
    )
    arguments = parser.parse_args()
    asyncio.run(
        main(arguments.events, arguments.stream_calls, arguments.per_second, arguments.profile)
    )
