"""Benchmark 5, end to end: contact events through the public APIs to the SLA clocks, for minutes.

The whole system as in production, on one fresh PostgreSQL database (a schema per service) and
the bundled broker: enquiry-api, complaints-api, sla-monitor and metrics-api, each a uvicorn
process (uvloop, httptools). A load generator of its own (this file, `python bench/e2e.py load`)
offers contacts through the public APIs, open loop, at an average of R contact events per
second in bursts: each 10 s cycle is 2 s at 2.5 R then 8 s at 0.625 R. A **contact event** is
one event the APIs publish to `contact.events`: a call record posted is two (call.offered,
call.answered), a visit with its attendance two, a standby record two, an enquiry or complaint
created one, its acknowledgement one. At R = 1,500 the average second holds 52.5 POST /v1/calls
of 10 answered office-hours calls (1,050 events), 20 POST /v1/visits of 5 attended visits
(200), one POST /v1/standby/call-records every second of 50 records (100), 50 email enquiries
POST /v1/enquiries (50) each acknowledged 2 s after it was due (50), and 25 complaints POST
/v1/complaints (25) each acknowledged 2 s later (25): 224 requests/s, 560/s in a burst. Each
request is due at its time whatever came before (no coordinated omission); an acknowledgement
waits for its creation's answer.

The measure: for every enquiry and complaint and the first call and visit of each request (the
others start the same clocks the same way), the delay from the API's answer reaching the load
generator to the contact's first SLA clock being visible, read from sla-monitor's `sla.clock`
table on a side connection every 50 ms (polling GET /v1/clocks for ~120 new contacts a second
twenty times a second would itself be a load; the API is checked on a sample at the end). A
clock is stamped when the query that first saw it started (its snapshot), so each delay is an
upper bound, at most 50 ms plus the query above the truth. Consumer lag of sla-monitor's and
metrics-api's groups is sampled every 2 s from the broker (committed offsets against the
partitions' ends, summed over their topics), and its growth is the least-squares slope over the
load. The offered rate is checked three ways: the contact events the APIs answered 2xx within
the load's seconds, how late the generator itself started its requests (apart from waiting for
a free connection, which is the servers' queue), and the growth of `contact.events` on the
broker. Diagnostics: each process's CPU, PostgreSQL's waits (every 50 ms) and which statement
holds the lock that others wait on (every second), the outboxes' backlog, the lag's drain.
One run per `make bench` (it is minutes long); `python bench/e2e.py bench --rate R --seconds S`
runs it at another rate and prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import percentile  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

    from contact_devtools.broker import DevBroker

CYCLE_SECONDS = 10.0
BURST_SECONDS = 2.0
BURST_FACTOR = 2.5  # 2 s at 2.5 R and 8 s at 0.625 R average R
QUIET_FACTOR = (CYCLE_SECONDS - BURST_SECONDS * BURST_FACTOR) / (CYCLE_SECONDS - BURST_SECONDS)
ACK_DELAY = 2.0
POLL_SECONDS = 0.05
LAG_SECONDS = 2.0
GOAL_RATE = 1500.0
CONNECTIONS = {"enquiry": 48, "complaints": 16}
IDLE_SECONDS = 3.0


@dataclass(frozen=True)
class Kind:
    """One kind of request: where it goes and how many contact events it publishes."""

    name: str
    service: str
    events: int  # contact events one request publishes
    share: float  # of the events at the average rate
    records: int = 1  # records in one request


KINDS = (
    Kind("calls", "enquiry", 20, 1050 / 1500, records=10),
    Kind("visits", "enquiry", 10, 200 / 1500, records=5),
    Kind("standby", "enquiry", 100, 100 / 1500, records=50),
    Kind("enquiry", "enquiry", 1, 50 / 1500),
    Kind("complaint", "complaints", 1, 25 / 1500),
)
# Follow-ups: (kind, of what, events); each due ACK_DELAY after what it follows.
FOLLOW_UPS = {
    "enquiry": Kind("enquiry_ack", "enquiry", 1, 0),
    "complaint": Kind("complaint_ack", "complaints", 1, 0),
}


def schedule(rate: float, duration: float) -> list[tuple[float, str, int]]:
    """Every request's due time (seconds from the start), kind and number, in time order."""
    plan: list[tuple[float, str, int]] = []
    for kind in KINDS:
        carry = 0.0  # requests owed from the segments before (the fraction of the next one)
        number = 0
        start = 0.0
        while start < duration:
            in_cycle = start % CYCLE_SECONDS
            burst = in_cycle < BURST_SECONDS
            end = min(start - in_cycle + (BURST_SECONDS if burst else CYCLE_SECONDS), duration)
            per_second = rate * (BURST_FACTOR if burst else QUIET_FACTOR) * kind.share / kind.events
            if per_second > 0:
                at = start + (1.0 - carry) / per_second
                while at < end:
                    plan.append((at, kind.name, number))
                    if kind.name in FOLLOW_UPS:
                        plan.append((at + ACK_DELAY, FOLLOW_UPS[kind.name].name, number))
                    number += 1
                    at += 1.0 / per_second
                carry = 1.0 - (at - end) * per_second
            start = end
    plan.sort()
    return plan


def contact_time(now: datetime) -> datetime:
    """A moment whose last five minutes are office hours: calls and visits then start clocks."""
    from contact_common.calendar import WorkingCalendar

    calendar = WorkingCalendar()
    moment = now - timedelta(minutes=10)
    if calendar.in_office_hours(moment - timedelta(minutes=5)) and calendar.in_office_hours(moment):
        return moment
    day = moment.astimezone(calendar.timezone).date()
    while not (calendar.is_working_day(day) and calendar.closing_time(day) <= now):
        day -= timedelta(days=1)
    return calendar.closing_time(day) - timedelta(minutes=30)


class Bodies:
    """Request bodies with fresh ids: records are idempotent on their ids."""

    def __init__(self, run: str, moment: datetime) -> None:
        self.run = run
        self.moment = moment

    def _at(self, seconds: float) -> str:
        return (self.moment + timedelta(seconds=seconds)).isoformat()

    def body(self, kind: str, number: int) -> bytes:
        """The JSON body of request `number` of `kind`."""
        if kind == "calls":
            return orjson.dumps(self._calls(number))
        if kind == "visits":
            return orjson.dumps(self._visits(number))
        if kind == "standby":
            return orjson.dumps(self._standby(number))
        if kind == "enquiry":
            return orjson.dumps(
                {
                    "channel": "email",
                    "service_area": "waste",
                    "received_at": self._at(0),
                    "description": "The bins on Elm Road were not collected on Tuesday.",
                    "customer": {"name": "A Resident", "email": "resident@example.org"},
                }
            )
        if kind == "complaint":
            return orjson.dumps(
                {
                    "channel": "email",
                    "service_area": "housing",
                    "received_at": self._at(0),
                    "description": "Nobody came to repair the boiler after three calls.",
                }
            )
        if kind == "enquiry_ack":
            return b"{}"
        return orjson.dumps({"officer": "OFFICER-17"})

    def _calls(self, number: int) -> list[dict]:
        """Ten answered office-hours calls, each waiting 4-13 s: the commitment met."""
        return [
            {
                "call_id": f"{self.run}-c{number}-{j}",
                "offered_at": self._at(-200 + j),
                "answered_at": self._at(-196 + 2 * j),
                "ended_at": self._at(-60 + j),
                "queue": "general",
                "service_area": "council_tax",
            }
            for j in range(10)
        ]

    def _visits(self, number: int) -> list[dict]:
        """Five attended visits."""
        return [
            {
                "visit_id": f"{self.run}-v{number}-{j}",
                "arrived_at": self._at(-250 + j),
                "attended_at": self._at(-120 + j),
                "service_area": "housing",
            }
            for j in range(5)
        ]

    def _standby(self, number: int) -> list[dict]:
        """Fifty out-of-hours calls the contractor took the night before."""
        started = self.moment - timedelta(hours=14)
        return [
            {
                "record_id": f"{self.run}-s{number}-{j}",
                "call_started_at": (started + timedelta(seconds=j)).isoformat(),
                "answered_at": (started + timedelta(seconds=j + 20)).isoformat(),
                "ended_at": (started + timedelta(seconds=j + 300)).isoformat(),
                "category": "housing_repair",
                "service_area": "housing",
                "action_taken": "Emergency plumber sent to stop a leak.",
                "requires_follow_up": False,
            }
            for j in range(50)
        ]


PATHS = {
    "calls": "/v1/calls",
    "visits": "/v1/visits",
    "standby": "/v1/standby/call-records",
    "enquiry": "/v1/enquiries",
    "complaint": "/v1/complaints",
    "enquiry_ack": "/v1/enquiries/{id}/acknowledge",
    "complaint_ack": "/v1/complaints/{id}/acknowledge",
}
EVENTS = {k.name: k.events for k in (*KINDS, *FOLLOW_UPS.values())}
SERVICE = {k.name: k.service for k in (*KINDS, *FOLLOW_UPS.values())}


class Connection:
    """One keep-alive HTTP/1.1 connection that returns the answer's body."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used = 0.0

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Sends `request`; returns the status code and the body."""
        now = time.monotonic()
        # uvicorn closes a connection idle for 5 s (its keep-alive timeout); a request written
        # into one that is closing is lost, so one idle nearly that long is opened afresh.
        if self.writer is not None and now - self.used > IDLE_SECONDS:
            self.writer.close()
            self.writer = None
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.used = now
        assert self.reader is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length) if length else b""
        return int(head[9:12]), body


_clock = time.monotonic  # CLOCK_MONOTONIC: the same clock in the benchmark's process


async def load(args: argparse.Namespace) -> dict:
    """Offers the plan open loop; writes sampled subjects; returns what was offered and served."""
    generator = LoadRun(args)
    plan = schedule(args.rate, args.duration)
    t0, sending_done, unfinished = await generator.offer(plan, drain=args.drain)
    generator.samples.close()
    return generator.figures(
        plan, t0=t0, sending_done=sending_done, unfinished=unfinished, duration=args.duration
    )


def _pools(urls: dict[str, str]) -> dict[str, asyncio.LifoQueue[Connection]]:
    """CONNECTIONS keep-alive connections per service, not yet opened."""
    pools: dict[str, asyncio.LifoQueue[Connection]] = {}
    for service, url in urls.items():
        host, port = url.removeprefix("http://").split(":")
        pools[service] = asyncio.LifoQueue()  # the warmest connection first
        for _ in range(CONNECTIONS[service]):
            pools[service].put_nowait(Connection(host, int(port)))
    return pools


class LoadRun:
    """The load generator's state: its connection pools, the subjects created, the figures."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.pools = _pools({"enquiry": args.enquiry, "complaints": args.complaints})
        self.auth = f"Authorization: Bearer {args.token}"
        self.bodies = Bodies(args.run, datetime.fromisoformat(args.moment))
        # A line per sampled contact, flushed at once: the poller reads it while the load runs (a
        # local write of ~50 bytes, far cheaper than a thread hop).
        self.samples = open(args.samples, "w", buffering=1)  # noqa: SIM115
        self.created: dict[tuple[str, int], asyncio.Future[str | None]] = {}
        self.stats = {
            name: {"sent": 0, "ok": 0, "failed": 0, "events_ok": 0, "latency": [], "late": []}
            for name in EVENTS
        }
        self.failures: list[str] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.behind: list[float] = []  # how late the generator itself started each request
        self.answered: list[tuple[float, int]] = []  # (when, contact events) of each 2xx answer

    async def offer(
        self, plan: list[tuple[float, str, int]], *, drain: float
    ) -> tuple[float, float, int]:
        """Starts each request at its due time, then waits up to `drain` s for the answers.

        Returns the load's start (t0), when the last request was started, and how many were
        still unanswered.
        """
        t0 = _clock() + 0.2
        print(json.dumps({"t0": t0}), flush=True)  # the benchmark's process reads when load starts
        for offset, kind, number in plan:
            due = t0 + offset
            delay = due - _clock()
            if delay > 0:
                await asyncio.sleep(delay)
            self.behind.append(_clock() - due)
            if kind in FOLLOW_UPS:  # its acknowledgement may be scheduled before its answer
                self.created.setdefault((kind, number), asyncio.get_running_loop().create_future())
            task = asyncio.create_task(self.one(due, kind, number))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        sending_done = _clock()
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=drain)
        return t0, sending_done, len(self.tasks)

    async def one(self, due: float, kind: str, number: int) -> None:
        """Sends request `number` of `kind` (an acknowledgement once its subject exists)."""
        figures = self.stats[kind]
        future = None
        subject_id = None
        if kind.endswith("_ack"):
            subject_id = await self.created[(kind.removesuffix("_ack"), number)]
            if subject_id is None:
                figures["failed"] += 1  # its creation failed: nothing to acknowledge
                return
        elif kind in FOLLOW_UPS:
            future = self.created.setdefault(
                (kind, number), asyncio.get_running_loop().create_future()
            )
        request = self._request(kind, number, subject_id)
        pool = self.pools[SERVICE[kind]]
        connection = await pool.get()
        figures["sent"] += 1
        figures["late"].append(_clock() - due)
        answer_id = None
        try:
            try:
                status, answer = await connection.exchange(request)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                connection = Connection(connection.host, connection.port)
                status, answer = 0, repr(exc).encode()
            finally:
                pool.put_nowait(connection)
            answer_id = self._answered(kind, due, status, answer)
        finally:
            if future is not None and not future.done():
                future.set_result(answer_id)  # None: its acknowledgement is not sent

    def _request(self, kind: str, number: int, subject_id: str | None) -> bytes:
        path = PATHS[kind].format(id=subject_id)
        body = self.bodies.body(kind, number)
        return (
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{self.auth}\r\n\r\n"
        ).encode() + body

    def _answered(self, kind: str, due: float, status: int, answer: bytes) -> str | None:
        """Counts an answer; returns the id it created when its clock is to be timed."""
        returned = _clock()
        figures = self.stats[kind]
        figures["latency"].append(returned - due)
        if not 200 <= status < 300:
            figures["failed"] += 1
            if len(self.failures) < 5:
                self.failures.append(f"{kind} {status}: {answer[:300].decode(errors='replace')}")
            return None
        figures["ok"] += 1
        figures["events_ok"] += EVENTS[kind]
        self.answered.append((returned, EVENTS[kind]))
        if kind not in ("calls", "visits", "enquiry", "complaint"):
            return None
        data = orjson.loads(answer)
        answer_id = data["results"][0]["id"] if "results" in data else data["id"]
        self.samples.write(f"{answer_id} {kind} {due:.6f} {returned:.6f}\n")
        return answer_id

    def figures(
        self,
        plan: list[tuple[float, str, int]],
        *,
        t0: float,
        sending_done: float,
        unfinished: int,
        duration: float,
    ) -> dict:
        """What was offered and served, how late, and the generator's own CPU."""
        stats = self.stats
        usage = resource.getrusage(resource.RUSAGE_SELF)
        late = [x for f in stats.values() for x in f["late"]]
        latency = [x for f in stats.values() for x in f["latency"]]
        return {
            "t0": t0,
            "duration": duration,
            "scheduled_requests": len(plan),
            "scheduled_events": sum(EVENTS[kind] for _, kind, _ in plan),
            "sent": sum(f["sent"] for f in stats.values()),
            "ok": sum(f["ok"] for f in stats.values()),
            "failed": sum(f["failed"] for f in stats.values()),
            "unfinished": unfinished,
            "events_ok": sum(f["events_ok"] for f in stats.values()),
            "behind_p50_ms": percentile(self.behind, 50) * 1000,
            "behind_p99_ms": percentile(self.behind, 99) * 1000,
            "behind_max_ms": max(self.behind, default=0) * 1000,
            "events_answered_in_window": sum(n for at, n in self.answered if at <= t0 + duration),
            "last_answer_s": max((at for at, _ in self.answered), default=t0) - t0,
            "send_late_p50_ms": percentile(late, 50) * 1000,
            "send_late_p99_ms": percentile(late, 99) * 1000,
            "send_late_max_ms": max(late, default=0) * 1000,
            "sending_took": sending_done - t0,
            "request_p50_ms": percentile(latency, 50) * 1000,
            "request_p99_ms": percentile(latency, 99) * 1000,
            "by_kind": {
                name: {
                    "sent": f["sent"],
                    "ok": f["ok"],
                    "failed": f["failed"],
                    "events_ok": f["events_ok"],
                    "p50_ms": percentile(f["latency"], 50) * 1000,
                    "p99_ms": percentile(f["latency"], 99) * 1000,
                }
                for name, f in stats.items()
            },
            "failures": self.failures,
            "client_cpu": (usage.ru_utime + usage.ru_stime) / max(duration, 1e-9),
        }


# ---------------------------------------------------------------------------------------------
# The benchmark (in the benchmark's process): the system, the clock poller, the lag sampler.

SERVICES = (
    # (name, app, env prefix)
    ("enquiry-api", "enquiry_api.main:create_app", "ENQUIRY_"),
    ("complaints-api", "complaints_api.main:create_app", "COMPLAINTS_"),
    ("sla-monitor", "sla_monitor.main:create_app", "SLA_"),
    ("metrics-api", "metrics_api.main:create_app", "METRICS_"),
)
GROUPS = {"sla-monitor": ("contact.events",), "metrics-api": ("contact.events", "sla.events")}


class ClockPoller:
    """Stamps when each sampled contact's first SLA clock becomes visible in sla.clock."""

    def __init__(self, dsn: str, samples: Path) -> None:
        self.dsn = dsn
        self.samples = samples
        self.pending: dict[uuid.UUID, tuple[str, float, float]] = {}
        self.seen: dict[uuid.UUID, tuple[str, float, float, float]] = {}
        self.polls = 0
        self.query_seconds: list[float] = []
        self._offset = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ClockPoller:
        import asyncpg

        self._connection = await asyncpg.connect(self.dsn)
        self._task = asyncio.create_task(self._run())
        return self

    def _read_new(self) -> None:
        if not self.samples.exists():
            return
        with self.samples.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        complete = chunk.rfind(b"\n") + 1  # a line still being written waits for the next poll
        self._offset += complete
        for line in chunk[:complete].splitlines():
            subject, kind, due, returned = line.decode().split()
            self.pending[uuid.UUID(subject)] = (kind, float(due), float(returned))

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            self._read_new()
            if self.pending:
                at = time.monotonic()
                rows = await self._connection.fetch(
                    "SELECT DISTINCT subject FROM sla.clock WHERE subject = ANY($1::uuid[])",
                    list(self.pending),
                )
                self.query_seconds.append(time.monotonic() - at)
                self.polls += 1
                for row in rows:
                    kind, due, returned = self.pending.pop(row["subject"])
                    self.seen[row["subject"]] = (kind, due, returned, at)
            await asyncio.sleep(max(0.0, POLL_SECONDS - (time.monotonic() - started)))

    async def settle(self, timeout: float) -> None:
        """Waits until every sampled contact has a clock, or the timeout."""
        deadline = time.monotonic() + timeout
        await asyncio.sleep(2 * POLL_SECONDS)
        while self.pending and time.monotonic() < deadline:  # noqa: ASYNC110 - a poll
            await asyncio.sleep(0.2)

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self._connection.close()


class BlockSampler:
    """Which statements wait on a lock and which hold it, sampled every second."""

    QUERY = (
        "SELECT left(regexp_replace(w.query, '\\s+', ' ', 'g'), 70) AS waiting, "
        "left(regexp_replace(b.query, '\\s+', ' ', 'g'), 70) AS holding "
        "FROM pg_stat_activity w, unnest(pg_blocking_pids(w.pid)) AS blocker(pid) "
        "JOIN pg_stat_activity b ON b.pid = blocker.pid "
        "WHERE w.datname = $1 AND w.wait_event_type = 'Lock'"
    )

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.pairs: dict[tuple[str, str], int] = {}
        self.samples = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> BlockSampler:
        import asyncpg

        self._connection = await asyncpg.connect(self.dsn)
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        database = self.dsn.rsplit("/", 1)[1]
        while True:
            for row in await self._connection.fetch(self.QUERY, database):
                key = (row["waiting"] or "?", row["holding"] or "?")
                self.pairs[key] = self.pairs.get(key, 0) + 1
            self.samples += 1
            await asyncio.sleep(1.0)

    def summary(self, top: int = 3) -> str:
        """The commonest (waiting, holding) pairs, as mean waiters per sample."""
        if not self.pairs:
            return "none seen"
        ordered = sorted(self.pairs.items(), key=lambda item: -item[1])[:top]
        return "; ".join(
            f"{count / self.samples:.1f} × `{waiting}` waiting on `{holding}`"
            for (waiting, holding), count in ordered
        )

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self._connection.close()


class LagSampler:
    """Consumer lag of the platform's groups from the broker, every LAG_SECONDS."""

    def __init__(self, bootstrap: str, groups: dict[str, tuple[str, ...]] = GROUPS) -> None:
        self.bootstrap = bootstrap
        self.groups = groups
        self.samples: list[tuple[float, dict[str, int], int]] = []  # (t, lag by group, end)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LagSampler:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        self._ends = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None)
        await self._ends.start()
        await self._ends.topics()  # the cluster's metadata: every topic's partitions
        self._partitions = [
            TopicPartition(topic, p)
            for topic in sorted({t for topics in self.groups.values() for t in topics})
            for p in sorted(self._ends.partitions_for_topic(topic) or ())
        ]
        # One watcher per group, assigned (not subscribed): it reads the group's committed
        # offsets without joining the group, so it moves no partition. (aiokafka's admin
        # client cannot decode the bundled broker's OffsetFetch answer.)
        self._watchers = {}
        for group, topics in self.groups.items():
            watcher = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False
            )
            await watcher.start()
            watcher.assign([tp for tp in self._partitions if tp.topic in topics])
            self._watchers[group] = watcher
        return self

    async def measure(self) -> tuple[dict[str, int], int]:
        """Lag of each group (summed over its topics' partitions), and contact.events' end."""
        ends = await self._ends.end_offsets(self._partitions)
        lags = {}
        for group, watcher in self._watchers.items():
            total = 0
            for tp in watcher.assignment():
                committed = await watcher.committed(tp)
                total += max(ends[tp] - (committed or 0), 0)
            lags[group] = total
        return lags, sum(end for tp, end in ends.items() if tp.topic == "contact.events")

    def start(self) -> None:
        """Starts sampling every LAG_SECONDS."""
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            at = time.monotonic()
            lags, end = await self.measure()
            self.samples.append((at, lags, end))
            await asyncio.sleep(max(0.0, LAG_SECONDS - (time.monotonic() - at)))

    async def stop_sampling(self) -> None:
        """Stops the periodic samples."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def __aexit__(self, *_: object) -> None:
        await self.stop_sampling()
        for watcher in self._watchers.values():
            await watcher.stop()
        await self._ends.stop()


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x (units of y per unit of x); 0 for fewer than 2 points."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs so far, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


async def _outbox_backlog(dsn: str) -> dict[str, int]:
    """Outbox rows not yet published, per service: the relays' backlog."""
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        return {
            schema: await connection.fetchval(
                f"SELECT count(*) FROM {schema}.outbox_message WHERE published_at IS NULL"
            )
            for schema in ("enquiry", "complaints", "sla")
        }
    finally:
        await connection.close()


async def _wait(condition, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"e2e: {what} not within {timeout:.0f} s")
        await asyncio.sleep(0.5)


async def measure_once(*, rate: float, seconds: float, private_postgres: bool = False) -> dict:
    """Runs the whole system under the load once; returns every figure. With
    `private_postgres`, on a cluster of its own (pgcluster.py): its CPU and pg_stat_statements'
    top statements are then measured too."""
    from common import SERVER, broker, scratch_database
    from pgcluster import cluster_cpu_seconds, private_cluster

    with contextlib.ExitStack() as outer:
        cluster = outer.enter_context(private_cluster()) if private_postgres else None
        cpu_readers = {"postgresql": partial(cluster_cpu_seconds, cluster.pid)} if cluster else {}
        dev = outer.enter_context(broker())
        async with scratch_database("e2e", server=cluster.server if cluster else SERVER) as url:
            return await _measure_on(
                rate=rate, seconds=seconds, url=url, dev=dev, cpu_readers=cpu_readers
            )
    raise AssertionError("unreachable")  # the ExitStack does not swallow exceptions


async def _measure_on(
    *, rate: float, seconds: float, url: str, dev: DevBroker, cpu_readers: dict
) -> dict:
    """One run against a migrated-on-demand scratch database and a running broker."""
    import httpx
    from common import BENCH_DIR, WORK_DIR, api_key, cpu_seconds, log

    from contact_common.bus.kafka import ensure_topics

    scopes = ["contacts:write", "enquiries:write", "standby:write", "complaints:write", "sla:read"]
    keys, token = api_key(scopes)
    run_id = uuid.uuid4().hex[:8]
    samples = WORK_DIR / f"e2e-samples-{run_id}.txt"
    moment = contact_time(datetime.now(UTC))
    bootstrap = dev.bootstrap_servers
    await ensure_topics(bootstrap)
    with contextlib.ExitStack() as stack:
        servers = await _start_services(stack, url=url, bootstrap=bootstrap, keys=keys)
        log(f"e2e: four services up; contacts timed at {moment.isoformat()}")
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        async with (
            httpx.AsyncClient(headers=headers, timeout=30) as client,
            LagSampler(bootstrap) as lag,
        ):
            clocks_url = f"{servers['sla-monitor'].url}/v1/clocks"
            await _ready(client, servers, lag, Bodies(f"{run_id}-w", moment))
            log(f"e2e: ready; {rate:,.0f} contact events/s in bursts for {seconds:.0f} s")
            readers = {name: partial(cpu_seconds, s.process.pid) for name, s in servers.items()}
            readers["broker (tansu)"] = partial(cpu_seconds, dev.process.pid)
            command = [sys.executable, str(BENCH_DIR / "e2e.py"), "load"]
            command += ["--enquiry", servers["enquiry-api"].url]
            command += ["--complaints", servers["complaints-api"].url]
            command += ["--token", token, "--rate", str(rate), "--duration", str(seconds)]
            command += ["--run", run_id, "--moment", moment.isoformat()]
            command += ["--samples", str(samples)]
            measured = await _under_load(
                command, {**readers, **cpu_readers}, url, samples, lag, seconds,
                statements=bool(cpu_readers),
            )  # fmt: skip
            measured["drained_at"] = await _drained_at(lag)
            await lag.stop_sampling()
            measured["api_checked"] = await _clocks_in_api(client, clocks_url, measured["poller"])
    samples.unlink(missing_ok=True)
    return _figures(measured, lag.samples, rate=rate, seconds=seconds, moment=moment)


async def _start_services(
    stack: contextlib.ExitStack, *, url: str, bootstrap: str, keys: Path
) -> dict:
    """Migrates the scratch database and serves the four services; stopped with `stack`."""
    from common import ROOT, Server

    from contact_common.migrations import upgrade

    for name, _, _ in SERVICES:
        await upgrade(ROOT / "services" / name, url)
    servers = {}
    for name, app, prefix in SERVICES:
        env = {
            f"{prefix}DATABASE_URL": url,
            "DATABASE_URL": url,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "API_KEYS_FILE": str(keys),
            f"{prefix}LOG_LEVEL": "WARNING",
        }
        servers[name] = stack.enter_context(Server(app, env=env))
    return servers


async def _ready(client: httpx.AsyncClient, servers: dict, lag: LagSampler, bodies: Bodies) -> None:
    """Waits until sla-monitor has its partitions (a call's clock shows in its API) and
    metrics-api has read everything so far (its group's lag is 0)."""
    answer = await client.post(
        f"{servers['enquiry-api'].url}/v1/calls", content=bodies.body("calls", 0)
    )
    if answer.status_code != 201:
        raise RuntimeError(f"e2e: POST /v1/calls {answer.status_code}: {answer.text}")
    subject = answer.json()["results"][0]["id"]
    clocks_url = f"{servers['sla-monitor'].url}/v1/clocks"

    async def clock_shown() -> bool:
        found = await client.get(clocks_url, params={"subject": subject})
        return found.status_code == 200 and bool(found.json())

    async def caught_up() -> bool:
        lags, _ = await lag.measure()
        return all(v == 0 for v in lags.values())

    await _wait(clock_shown, 120, "sla-monitor's first clock")
    await _wait(caught_up, 120, "the consumer groups catching up")


async def _under_load(
    command: list[str],
    cpu_readers: dict[str, Callable[[], float]],
    url: str,
    samples: Path,
    lag: LagSampler,
    seconds: float,
    *,
    statements: bool = False,
) -> dict:
    """Runs the load generator while polling the clocks, PostgreSQL's waits and locks and the
    lag; returns what it offered and the processes' CPU, until every sampled clock shows."""
    from common import WaitSampler, log, plain_dsn, run_json_async
    from pgcluster import reset_statements, top_statements

    if statements:
        await reset_statements(plain_dsn(url))
    cpu_before = {name: read() for name, read in cpu_readers.items()}
    cpu_from = time.monotonic()
    busy_before = machine_busy()
    load_average = [os.getloadavg()[0]]
    lag.start()
    async with (
        ClockPoller(plain_dsn(url), samples) as poller,
        WaitSampler(url) as waits,
        BlockSampler(plain_dsn(url)) as blocks,
    ):
        generated = await run_json_async(command, timeout=seconds + 300)
        cpu_after = {name: read() for name, read in cpu_readers.items()}
        cpu_wall = time.monotonic() - cpu_from
        busy_after = machine_busy()
        backlog = await _outbox_backlog(plain_dsn(url))
        load_average.append(os.getloadavg()[0])
        log(f"e2e: load done; {generated['ok']:,} requests answered 2xx")
        await poller.settle(timeout=90)
    busy = (busy_after[0] - busy_before[0]) / max(busy_after[1] - busy_before[1], 1)
    return {
        "generated": generated,
        "poller": poller,
        "cpu": {name: (cpu_after[name] - cpu_before[name]) / cpu_wall for name in cpu_readers},
        "statements": await top_statements(plain_dsn(url)) if statements else [],
        "cpu_wall_s": cpu_wall,
        "machine_busy": busy * (os.cpu_count() or 1),
        "load_average": load_average,
        "outbox_backlog": backlog,
        "postgres_waits": waits.summary(),
        "postgres_blocks": blocks.summary(),
    }


async def _drained_at(lag: LagSampler, timeout: float = 180) -> float | None:
    """When the lag sampler first saw every group at lag 0, within `timeout` s; or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lag.samples and all(v == 0 for v in lag.samples[-1][1].values()):
            return lag.samples[-1][0]
        await asyncio.sleep(0.5)
    return None


async def _clocks_in_api(client: httpx.AsyncClient, clocks_url: str, poller: ClockPoller) -> str:
    """The API shows what the table shows: of up to 20 sampled contacts, how many it shows."""
    checked = list(poller.seen)[:: max(1, len(poller.seen) // 20)][:20]
    api_shown = 0
    for subject_id in checked:
        found = await client.get(clocks_url, params={"subject": str(subject_id)})
        api_shown += found.status_code == 200 and bool(found.json())
    return f"{api_shown}/{len(checked)}"


def _lag_figures(
    samples: list[tuple[float, dict[str, int], int]], t0: float, load_end: float
) -> tuple[dict, float]:
    """Each group's lag during the load (start, end, max, slope) and contact.events' growth/s."""
    during = [(at - t0, lags, end) for at, lags, end in samples if t0 <= at <= load_end]
    lag_figures = {}
    for group in GROUPS:
        series = [(t, lags[group]) for t, lags, _ in during]
        lag_figures[group] = {
            "start": series[0][1] if series else None,
            "end": series[-1][1] if series else None,
            "max": max((v for _, v in series), default=None),
            "slope_per_s": slope(series),
            "series": series,
        }
    published = (
        (during[-1][2] - during[0][2]) / (during[-1][0] - during[0][0]) if len(during) > 1 else 0.0
    )
    return lag_figures, published


def _figures(
    measured: dict,
    lag_samples: list[tuple[float, dict[str, int], int]],
    *,
    rate: float,
    seconds: float,
    moment: datetime,
) -> dict:
    """Every figure of one run, from what was measured."""
    generated = measured["generated"]
    poller: ClockPoller = measured["poller"]
    load_end = generated["t0"] + generated["duration"]
    lag_figures, published = _lag_figures(lag_samples, generated["t0"], load_end)
    delays = [(s[3] - s[2]) * 1000 for s in poller.seen.values()]
    from_due = [(s[3] - s[1]) * 1000 for s in poller.seen.values()]
    missing = len(poller.pending)
    by_kind = {}
    for kind in ("calls", "visits", "enquiry", "complaint"):
        values = [(s[3] - s[2]) * 1000 for s in poller.seen.values() if s[0] == kind]
        by_kind[kind] = {
            "n": len(values),
            "p50_ms": percentile(values, 50),
            "p99_ms": percentile(values, 99),
        }
    drained_at = measured["drained_at"]
    return {
        "rate": rate,
        "seconds": seconds,
        "contacts_at": moment.isoformat(),
        "load": generated,
        # Answered within the offered window: what the APIs kept up with, not what they
        # caught up on afterwards.
        "events_accepted_per_s": generated["events_answered_in_window"] / seconds,
        "events_published_per_s": published,
        "clock_samples": len(delays),
        "clock_missing": missing,
        "clock_p50_ms": percentile(delays + [float("inf")] * missing, 50),
        "clock_p99_ms": percentile(delays + [float("inf")] * missing, 99),
        "clock_max_ms": max(delays, default=float("inf")),
        "clock_from_due_p50_ms": percentile(from_due, 50),
        "clock_from_due_p99_ms": percentile(from_due, 99),
        "clock_by_kind": by_kind,
        "poll_query_p99_ms": percentile(poller.query_seconds, 99) * 1000,
        "lag": lag_figures,
        "drained_after_load_s": (drained_at - load_end) if drained_at is not None else None,
        "cpu": measured["cpu"],
        # CPU milliseconds per contact event answered 2xx, per process (the same span).
        "cpu_ms_per_event": {
            name: 1000 * cores * measured["cpu_wall_s"] / max(generated["events_ok"], 1)
            for name, cores in measured["cpu"].items()
        },
        "statements": measured.get("statements", []),
        "cpu_wall_s": measured["cpu_wall_s"],
        "machine_busy": measured["machine_busy"],
        "load_average": measured["load_average"],
        "outbox_backlog": measured["outbox_backlog"],
        "postgres_waits": measured["postgres_waits"],
        "postgres_blocks": measured["postgres_blocks"],
        "api_checked": measured["api_checked"],
    }


def _lag_text(figures: dict) -> str:
    return (
        f"{figures['start']:,} → {figures['end']:,}, max {figures['max']:,}, "
        f"slope {figures['slope_per_s']:+.1f}/s"
    )


async def run(*, repeat: int, quick: bool, rate: float = GOAL_RATE) -> dict:
    """Runs the end-to-end benchmark once (it is minutes long); `repeat` is not used."""
    from common import log

    seconds = 60.0 if quick else 300.0
    figures = await measure_once(rate=rate, seconds=seconds)
    log(
        f"e2e: accepted {figures['events_accepted_per_s']:,.0f} events/s; clock p50/p99 "
        f"{figures['clock_p50_ms']:.0f}/{figures['clock_p99_ms']:.0f} ms; lag "
        + "; ".join(f"{g} {_lag_text(f)}" for g, f in figures["lag"].items())
    )
    return report([figures], rate=rate, seconds=seconds)


def report(runs: list[dict], *, rate: float, seconds: float) -> dict:
    """The rows, goals and diagnostics of the runs (the last is reported)."""
    f = runs[-1]
    return {
        "name": "e2e",
        "rows": _report_rows(f, rate=rate, seconds=seconds),
        "runs": runs,
        "command": f"python bench/run.py --only e2e{' --quick' if seconds < 300 else ''}",
        "extra": _load_extra(f["load"], seconds) + _system_extra(f),
    }


def _report_rows(f: dict, *, rate: float, seconds: float) -> list[dict]:
    """Accepted rate, API answer → clock, consumer lag: each against its goal."""
    load = f["load"]
    accepted = f["events_accepted_per_s"]
    lag_ok = all(
        g["slope_per_s"] <= 0.01 * rate and g["end"] is not None for g in f["lag"].values()
    )
    return [
        {
            "benchmark": "5. End to end",
            "measure": f"contact events/s offered in bursts for {seconds:.0f} s: answered 2xx "
            "within those seconds / published to contact.events meanwhile",
            "value": f"{accepted:,.0f} / {f['events_published_per_s']:,.0f} events/s",
            "baseline": f"{rate:,.0f} offered (2 s at {BURST_FACTOR}×, 8 s at {QUIET_FACTOR}×)",
            "ratio": f"{accepted / rate:.0%}",
            "goal": f"{GOAL_RATE:,.0f} events/s",
            "met": accepted >= 0.99 * GOAL_RATE and load["failed"] == 0,
        },
        {
            "benchmark": "5. End to end",
            "measure": "API answer → SLA clock visible (sla.clock, polled every 50 ms), p50 / "
            f"p99 ({f['clock_samples']:,} contacts)",
            "value": f"{f['clock_p50_ms']:,.0f} / {f['clock_p99_ms']:,.0f} ms",
            "baseline": "",
            "ratio": "",
            "goal": "p99 < 1 s",
            "met": f["clock_p99_ms"] < 1000 and rate >= GOAL_RATE,
        },
        {
            "benchmark": "5. End to end",
            "measure": "consumer lag during the load, start → end, max, slope: "
            + "; ".join(f"{group}" for group in f["lag"]),
            "value": "; ".join(_lag_text(g) for g in f["lag"].values()),
            "baseline": "",
            "ratio": "",
            "goal": f"no growth (slope ≤ {0.01 * rate:,.0f}/s, 1% of the rate)",
            "met": lag_ok and rate >= GOAL_RATE,
        },
    ]


def _load_extra(load: dict, seconds: float) -> list[str]:
    """What the generator offered and how late, and the requests' latency by kind."""
    kinds = load["by_kind"]
    return [
        f"offered: {load['scheduled_requests']:,} requests carrying {load['scheduled_events']:,} "
        f"contact events in {seconds:.0f} s; answered 2xx {load['ok']:,}, failed "
        f"{load['failed']:,}, unanswered at the end {load['unfinished']}"
        + (f" (first failures: {' | '.join(load['failures'])})" if load["failures"] else ""),
        "the load generator itself started its requests late by p50 "
        f"{load['behind_p50_ms']:.1f} ms, p99 {load['behind_p99_ms']:.1f} ms, max "
        f"{load['behind_max_ms']:.0f} ms (its own limit: CPU), its process using "
        f"{load['client_cpu']:.2f} of a core; with the wait for a free keep-alive connection "
        f"({CONNECTIONS['enquiry']} to enquiry-api, {CONNECTIONS['complaints']} to "
        f"complaints-api; all busy means the servers are behind) the requests went out late by "
        f"p50 {load['send_late_p50_ms']:,.0f} ms, p99 {load['send_late_p99_ms']:,.0f} ms; "
        f"the last answer came {load['last_answer_s']:.0f} s after the load's start; contact "
        f"events answered 2xx in all: {load['events_ok']:,} "
        f"({load['events_ok'] / seconds:,.0f}/s of the offered window)",
        "request latency from the due time, p50 / p99 (ms): "
        + ", ".join(
            f"{name} {k['p50_ms']:.0f} / {k['p99_ms']:.0f}"
            for name, k in kinds.items()
            if k["sent"]
        ),
    ]


def _system_extra(f: dict) -> list[str]:
    """Clock delays by kind, the lag's drain, CPU, outboxes, PostgreSQL and the contacts' times."""
    return [
        "API answer → clock visible by kind, p50 / p99 (ms): "
        + ", ".join(
            f"{name} {k['p50_ms']:.0f} / {k['p99_ms']:.0f} (n {k['n']:,})"
            for name, k in f["clock_by_kind"].items()
        )
        + f"; never seen: {f['clock_missing']}; from the request's due time instead of its "
        f"answer, p50 / p99 {f['clock_from_due_p50_ms']:,.0f} / "
        f"{f['clock_from_due_p99_ms']:,.0f} ms; the poll's own query p99 "
        f"{f['poll_query_p99_ms']:.1f} ms; GET /v1/clocks showed the clocks of "
        f"{f['api_checked']} sampled contacts checked at the end",
        "lag after the load stopped: drained to 0 in "
        + (
            f"{f['drained_after_load_s']:.1f} s"
            if f["drained_after_load_s"] is not None
            else "more than 180 s (not drained)"
        ),
        f"CPU from the load's start to its last answer ({f['cpu_wall_s']:.0f} s; 1.0 = one "
        "core busy): "
        + ", ".join(f"{name} {value:.2f}" for name, value in f["cpu"].items())
        + f"; the whole machine {f['machine_busy']:.2f} of {os.cpu_count()} cores "
        "(PostgreSQL, the load generator and whatever else ran included); 1-minute load "
        f"average at the load's start and end {f['load_average'][0]:.1f}, "
        f"{f['load_average'][1]:.1f}",
        "CPU per contact event answered 2xx (ms): "
        + ", ".join(f"{name} {ms:.3f}" for name, ms in f.get("cpu_ms_per_event", {}).items())
        + f"; all of them {sum(f.get('cpu_ms_per_event', {}).values()):.3f}",
        *_statements_extra(f.get("statements", [])),
        "outbox rows not yet published when the last answer came: "
        + ", ".join(f"{schema} {count:,}" for schema, count in f["outbox_backlog"].items()),
        f"PostgreSQL backends by wait (mean per 50 ms sample): {f['postgres_waits']}; "
        f"the statements waiting on a lock and the one holding it (last statement of the "
        f"holder's transaction; sampled every second): {f.get('postgres_blocks', '—')}",
        f"contacts' times: {f['contacts_at']} (office hours, so calls and visits start clocks)",
    ]


def _statements_extra(statements: list[dict]) -> list[str]:
    """pg_stat_statements' top statements by execution time (private cluster runs only)."""
    if not statements:
        return []
    total = statements[0]["all_statements_ms"]
    return [
        f"PostgreSQL statements by execution time (pg_stat_statements, all {total / 1000:,.1f} s "
        "of the database's statement time from the load's start to the clocks' settling): "
        + "; ".join(
            f"{s['share_pct']:.1f}% {s['calls']:,} calls × {s['mean_ms']:.3f} ms `{s['query']}`"
            for s in statements
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    generator = commands.add_parser("load", help="the load generator process (the bench runs it)")
    generator.add_argument("--enquiry", required=True)
    generator.add_argument("--complaints", required=True)
    generator.add_argument("--token", required=True)
    generator.add_argument("--rate", type=float, default=GOAL_RATE)
    generator.add_argument("--duration", type=float, default=300)
    generator.add_argument("--run", required=True)
    generator.add_argument("--moment", required=True)
    generator.add_argument("--samples", type=Path, required=True)
    generator.add_argument("--drain", type=float, default=120)
    bench = commands.add_parser("bench", help="one run, printed as JSON (not BENCHMARKS.md)")
    bench.add_argument("--rate", type=float, default=GOAL_RATE)
    bench.add_argument("--seconds", type=float, default=300)
    bench.add_argument(
        "--private-postgres",
        action="store_true",
        help="on a PostgreSQL cluster of its own: its CPU, top statements and slow plans",
    )
    args = parser.parse_args()

    import uvloop

    if args.command == "load":
        print(json.dumps(uvloop.run(load(args)), default=str))
    else:
        figures = uvloop.run(
            measure_once(
                rate=args.rate, seconds=args.seconds, private_postgres=args.private_postgres
            )
        )
        result = report([figures], rate=args.rate, seconds=args.seconds)
        print(json.dumps({"rows": result["rows"], "extra": result["extra"]}, indent=1, default=str))


if __name__ == "__main__":
    main()
