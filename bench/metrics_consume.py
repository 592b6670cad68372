"""Benchmark 4c, metrics-api's consumer: events/s counted into the read models, one instance.

A backlog of N events is put on `contact.events` and `sla.events` (each keyed by its contact,
as the outbox relays publish them) before metrics-api starts; metrics-api then runs as in
production (uvicorn, its consumer in the process, a fresh consumer group) on a scratch
PostgreSQL database and the bundled broker, both new for each repetition. The clock runs from
the group's first committed offset to its lag reaching 0 on every partition of both topics (read
from the broker every 100 ms, as benchmark 5 reads it); events/s is the lag at the first commit
over that time. The mix is benchmark 5's at 1,500 contact events/s with the sla.* events
sla-monitor publishes for it: per 25 of its calls answered in office hours (two clocks each, met),
4 visits attended (one clock, met), 2 standby calls (no clock), 2 email enquiries acknowledged
(the acknowledge clock met, the respond clock left running) and one complaint acknowledged (its
acknowledge clock met); one call in 20 is answered late (phone-answer breached with its stop),
and one enquiry in 5 is acknowledged late (its breach opens and its stop closes it), so the
breach paths are in the mix too. About 45% of the events are sla.*. The CPU of metrics-api's
process and of PostgreSQL's backends meanwhile is given per 1,000 events. What benchmark 5
needs of it: ~2,700 events/s (1,500 contact events/s and their ~1,200 sla.* events). Each
repetition is a process of its own; `python bench/metrics_consume.py --events N` runs one and
prints JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    Server,
    api_key,
    broker,
    cpu_seconds,
    log,
    median,
    plain_dsn,
    run_json_async,
    scratch_database,
)

from contact_common.bus.binding import STRUCTURED_HEADERS  # noqa: E402
from contact_common.bus.kafka import create_producer, ensure_topics  # noqa: E402
from contact_common.bus.topics import CONTACT_EVENTS, SLA_EVENTS  # noqa: E402
from contact_common.events import (  # noqa: E402
    CallAnswered,
    CallAnsweredData,
    CallOffered,
    CallOfferedData,
    Channel,
    CloudEvent,
    ComplaintAcknowledged,
    ComplaintAcknowledgedData,
    ComplaintReceived,
    ComplaintReceivedData,
    ComplaintStage,
    ContactType,
    EnquiryAcknowledged,
    EnquiryAcknowledgedData,
    EnquiryOpened,
    EnquiryOpenedData,
    SlaBreached,
    SlaBreachedData,
    SlaMet,
    SlaMetData,
    SlaStopped,
    SlaStoppedData,
    VisitArrived,
    VisitArrivedData,
    VisitAttended,
    VisitAttendedData,
    encode_event,
    topic_for,
)

GROUP = "metrics-bench"
AREAS = ("housing", "waste", "council_tax", "planning", "benefits")
GOAL = 2_700  # benchmark 5's contact events at 1,500/s and the sla.* events they cause


def _clock_events(
    commitment: str,
    contact_type: ContactType,
    contact_id: UUID,
    channel: Channel,
    area: str,
    started_at: datetime,
    target: timedelta,
    stopped_at: datetime,
) -> list[CloudEvent]:
    """sla-monitor's notices for one clock: met, or breached with its stop (late or later)."""
    common = {
        "clock_id": uuid4(),
        "commitment": commitment,
        "contact_type": contact_type,
        "contact_id": contact_id,
        "channel": channel,
        "service_area": area,
        "started_at": started_at,
        "due_at": started_at + target,
    }
    source = "/sla-monitor"
    if stopped_at <= common["due_at"]:
        elapsed = (stopped_at - started_at).total_seconds()
        data = SlaMetData(**common, stopped_at=stopped_at, elapsed_seconds=elapsed)
        return [SlaMet.from_data(data, source=source)]
    if commitment.startswith("phone"):  # stopped before the timer flagged it
        late = SlaBreachedData(**common, breached_at=common["due_at"], stopped_at=stopped_at)
        return [SlaBreached.from_data(late, source=source)]
    flagged = SlaBreachedData(**common, breached_at=common["due_at"], stopped_at=None)
    stop = SlaStoppedData(**common, breached_at=common["due_at"], stopped_at=stopped_at)
    return [
        SlaBreached.from_data(flagged, source=source),
        SlaStopped.from_data(stop, source=source),
    ]


def _call(at: datetime, area: str, wait: float, channel: Channel) -> tuple[list, list]:
    common = {"call_id": uuid4(), "channel": channel, "service_area": area, "offered_at": at}
    answered = at + timedelta(seconds=wait)
    contact = [
        CallOffered.from_data(CallOfferedData(**common), source="/enquiry-api"),
        CallAnswered.from_data(
            CallAnsweredData(**common, answered_at=answered, wait_seconds=wait),
            source="/enquiry-api",
        ),
    ]
    if channel is not Channel.phone:
        return contact, []
    sla = []
    for commitment, seconds in (("phone-answer", 15), ("phone-wait-max", 600)):
        sla += _clock_events(
            commitment,
            ContactType.call,
            common["call_id"],
            channel,
            area,
            at,
            timedelta(seconds=seconds),
            answered,
        )
    return contact, sla


def _visit(at: datetime, area: str, wait: float) -> tuple[list, list]:
    common = {"visit_id": uuid4(), "service_area": area, "arrived_at": at}
    attended = at + timedelta(seconds=wait)
    contact = [
        VisitArrived.from_data(VisitArrivedData(**common), source="/enquiry-api"),
        VisitAttended.from_data(
            VisitAttendedData(**common, attended_at=attended, wait_seconds=wait),
            source="/enquiry-api",
        ),
    ]
    sla = _clock_events(
        "reception-attend",
        ContactType.visit,
        common["visit_id"],
        Channel.face_to_face,
        area,
        at,
        timedelta(seconds=300),
        attended,
    )
    return contact, sla


def _enquiry(at: datetime, area: str, late: bool, number: int) -> tuple[list, list]:
    common = {
        "enquiry_id": uuid4(),
        "channel": Channel.email,
        "service_area": area,
        "received_at": at,
    }
    acknowledged = at + (timedelta(days=2) if late else timedelta(seconds=2))
    contact = [
        EnquiryOpened.from_data(
            EnquiryOpenedData(**common, reference=f"ENQ-2026-{number:06d}"),
            source="/enquiry-api",
        ),
        EnquiryAcknowledged.from_data(
            EnquiryAcknowledgedData(**common, acknowledged_at=acknowledged),
            source="/enquiry-api",
        ),
    ]
    sla = _clock_events(
        "email-acknowledge",
        ContactType.enquiry,
        common["enquiry_id"],
        Channel.email,
        area,
        at,
        timedelta(days=1),
        acknowledged,
    )
    return contact, sla


def _complaint(at: datetime, area: str, number: int) -> tuple[list, list]:
    common = {
        "complaint_id": uuid4(),
        "channel": Channel.email,
        "service_area": area,
        "received_at": at,
    }
    acknowledged = at + timedelta(seconds=2)
    contact = [
        ComplaintReceived.from_data(
            ComplaintReceivedData(
                **common, reference=f"CMP-2026-{number:06d}", stage=ComplaintStage.stage_1
            ),
            source="/complaints-api",
        ),
        ComplaintAcknowledged.from_data(
            ComplaintAcknowledgedData(
                **common, stage=ComplaintStage.stage_1, acknowledged_at=acknowledged
            ),
            source="/complaints-api",
        ),
    ]
    sla = _clock_events(
        "complaint-acknowledge",
        ContactType.complaint,
        common["complaint_id"],
        Channel.email,
        area,
        at,
        timedelta(days=3),
        acknowledged,
    )
    return contact, sla


def backlog(events: int, *, seed: int = 8) -> list[CloudEvent]:
    """About `events` events of benchmark 5's mix, each contact's in the order they happen."""
    rng = random.Random(seed)
    start = datetime(2026, 6, 3, 8, 0, tzinfo=UTC)  # 09:00 BST, a Wednesday
    made: list[CloudEvent] = []
    block = 0
    while len(made) < events:
        at = start + timedelta(seconds=block)
        parts = []
        for call in range(25):
            wait = rng.uniform(16, 40) if (block * 25 + call) % 20 == 0 else rng.uniform(1, 14)
            parts.append(_call(at, rng.choice(AREAS), wait, Channel.phone))
        parts += [_visit(at, rng.choice(AREAS), rng.uniform(30, 240)) for _ in range(4)]
        parts += [_call(at, "housing", 20, Channel.standby) for _ in range(2)]
        parts += [
            _enquiry(at, rng.choice(AREAS), (block * 2 + n) % 5 == 0, block * 2 + n)
            for n in range(2)
        ]
        parts.append(_complaint(at, rng.choice(AREAS), block))
        for contact, sla in parts:
            made += contact + sla
        block += 1
    return made


async def publish(bootstrap: str, events: list[CloudEvent]) -> None:
    """Puts the events on their topics as the outbox relays do (key = the contact's id)."""
    producer = create_producer(bootstrap, client_id="bench-metrics")
    await producer.start()
    try:
        for start in range(0, len(events), 5000):
            futures = [
                await producer.send(
                    topic_for(e),
                    value=encode_event(e),
                    key=e.partition_key,
                    headers=list(STRUCTURED_HEADERS),
                )
                for e in events[start : start + 5000]
            ]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


class GroupLag:
    """The metrics group's lag on both topics, from the broker, without joining the group."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    async def __aenter__(self) -> GroupLag:
        self._ends = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None)
        await self._ends.start()
        await self._ends.topics()
        self.partitions = [
            TopicPartition(topic, p)
            for topic in (CONTACT_EVENTS, SLA_EVENTS)
            for p in sorted(self._ends.partitions_for_topic(topic) or ())
        ]
        self._watcher = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=GROUP, enable_auto_commit=False
        )
        await self._watcher.start()
        self._watcher.assign(self.partitions)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._watcher.stop()
        await self._ends.stop()

    async def measure(self) -> tuple[int, bool]:
        """The lag summed over the partitions, and whether the group has committed anything."""
        ends = await self._ends.end_offsets(self.partitions)
        total, committed_any = 0, False
        for tp in self.partitions:
            committed = await self._watcher.committed(tp)
            committed_any = committed_any or committed is not None
            total += max(ends[tp] - (committed or 0), 0)
        return total, committed_any


async def _database_work(url: str) -> tuple[dict[int, float], int]:
    """CPU seconds so far of each PostgreSQL backend connected to the run's database, and the
    transactions committed in the database so far."""
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        commits = await connection.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
    finally:
        await connection.close()
    seconds = {}
    for row in rows:
        try:
            seconds[row["pid"]] = cpu_seconds(row["pid"])
        except OSError:
            continue  # gone, or PostgreSQL runs on another machine
    return seconds, commits


async def measure(events: int) -> dict:
    """One run: the backlog on a new broker, metrics-api started on it, timed to lag 0."""
    made = backlog(events)
    keys, _ = api_key(["metrics:read"])
    with broker() as dev:
        bootstrap = dev.bootstrap_servers
        await ensure_topics(bootstrap)
        await publish(bootstrap, made)
        sla = sum(1 for e in made if e.type.startswith("sla."))
        log(f"metrics-consume: {len(made):,} events on the topics ({sla:,} sla.*)")
        async with scratch_database("metrics_consume", service="metrics-api") as url:
            env = {
                "METRICS_DATABASE_URL": url,
                "DATABASE_URL": url,
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "API_KEYS_FILE": str(keys),
                "METRICS_CONSUMER_GROUP": GROUP,
                "METRICS_LOG_LEVEL": "WARNING",
            }
            async with GroupLag(bootstrap) as lag:
                with Server("metrics_api.main:create_app", env=env) as server:
                    assert server.process is not None
                    deadline = time.monotonic() + 120
                    while True:  # the group's first commit: a batch has been counted
                        behind, started = await lag.measure()
                        if started:
                            break
                        if time.monotonic() > deadline:
                            raise TimeoutError("metrics-api never committed a batch")
                        await asyncio.sleep(0.1)
                    first = time.monotonic()
                    cpu_before = cpu_seconds(server.process.pid)
                    postgres_before, commits_before = await _database_work(url)
                    deadline = first + 1800
                    while (await lag.measure())[0] > 0:
                        if time.monotonic() > deadline:
                            raise TimeoutError("metrics-api never caught up")
                        await asyncio.sleep(0.1)
                    seconds = time.monotonic() - first
                    cpu = cpu_seconds(server.process.pid) - cpu_before
                    postgres_after, commits_after = await _database_work(url)
    postgres = sum(spent - postgres_before.get(pid, 0.0) for pid, spent in postgres_after.items())
    return {
        "events": len(made),
        "sla_events": sla,
        "timed_events": behind,
        "seconds": seconds,
        "events_per_second": behind / seconds,
        "cpu_ms_per_1000": cpu / behind * 1e6,
        "postgres_ms_per_1000": postgres / behind * 1e6,
        "cores": cpu / seconds,
        # The consumer's transactions (a batch each) and the few of the gauge and this watcher.
        "transactions": commits_after - commits_before,
    }


async def run(*, repeat: int, quick: bool) -> dict:
    """The consumer benchmark `repeat` times, each in a process of its own; the medians."""
    events = 20_000 if quick else 40_000
    command = [sys.executable, "bench/metrics_consume.py", "--events", str(events)]
    runs = []
    for rep in range(repeat):
        log(f"metrics-consume {rep + 1}/{repeat}: {events:,} events")
        figures = await run_json_async(command, timeout=3600)
        log(
            f"metrics-consume {rep + 1}: {figures['events_per_second']:,.0f} events/s, "
            f"{figures['cpu_ms_per_1000']:.0f} ms CPU per 1,000 events"
        )
        runs.append(figures)

    def med(key: str) -> float:
        return median([r[key] for r in runs])

    rate = med("events_per_second")
    return {
        "name": "metrics-consume",
        "command": " ".join(["python", *command[1:]]),
        "rows": [
            {
                "benchmark": "4c. metrics-api consumer",
                "measure": f"events/s consumed and counted, one instance ({events:,} events of "
                "benchmark 5's mix, ~45% sla.*)",
                "value": f"{rate:,.0f} events/s",
                "baseline": "",
                "ratio": "",
                "goal": f"≥ {GOAL:,} events/s (benchmark 5's load)",
                "met": rate >= GOAL,
            },
            {
                "benchmark": "4c. metrics-api consumer",
                "measure": "CPU per 1,000 events: metrics-api / PostgreSQL's backends",
                "value": f"{med('cpu_ms_per_1000'):.0f} / {med('postgres_ms_per_1000'):.0f} ms",
                "baseline": "",
                "ratio": "",
                "goal": "",
                "met": None,
            },
        ],
        "runs": runs,
        "extra": [],
    }


if __name__ == "__main__":
    import uvloop

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000)
    arguments = parser.parse_args()
    print(json.dumps(uvloop.run(measure(arguments.events))))
