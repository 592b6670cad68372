"""SIGTERM stops each service gracefully: the requests in flight get their whole answer, the
consumers commit what they handled (no more, no less), the outbox relay stops between batches,
and the process exits 0. Each service runs as in production, a uvicorn process of its own, on
this test's PostgreSQL database and the session's broker; a restart then loses and repeats
nothing."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from contact_common.bus.binding import STRUCTURED_HEADERS
from contact_common.bus.kafka import create_producer
from contact_common.bus.topics import CONTACT_EVENTS, SLA_EVENTS
from contact_common.events import Channel, EnquiryOpened, EnquiryOpenedData, encode_event
from contact_common.migrations import upgrade
from contact_devtools.broker import free_port
from contact_devtools.processes import minimal_env
from contact_devtools.testing import skip_to_end

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

ROOT = Path(__file__).resolve().parents[2]
EXIT_WITHIN = 30.0  # seconds from SIGTERM; the runtime gives its workers 20 s
# uvicorn (0.29 on) shuts down gracefully on SIGTERM, then raises the signal again with the
# default handler so that whoever started it sees why it ended: a clean stop ends "killed by
# SIGTERM" (status 143 in a shell, as Kubernetes and Docker expect), after "Application shutdown
# complete". A hang fails the bound; an error in the shutdown exits 3 or logs its traceback.
STOPPED_CLEANLY = -signal.SIGTERM
STREAM = 1500  # events for a consumer: enough batches to be stopped in the middle


@dataclass(frozen=True)
class Spec:
    name: str
    module: str
    prefix: str
    schema: str


ENQUIRY = Spec("enquiry-api", "enquiry_api", "ENQUIRY_", "enquiry")
COMPLAINTS = Spec("complaints-api", "complaints_api", "COMPLAINTS_", "complaints")
SLA = Spec("sla-monitor", "sla_monitor", "SLA_", "sla")
METRICS = Spec("metrics-api", "metrics_api", "METRICS_", "metrics")


class Service:
    """One service as `scripts/run_local.py` starts it: `python -m uvicorn ... --factory`."""

    def __init__(self, spec: Spec, env: dict[str, str], log_path: Path) -> None:
        self.spec = spec
        self.env = env
        self.log_path = log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: asyncio.subprocess.Process | None = None
        self.terminated_at = 0.0

    async def start(self) -> Service:
        log = self._log_file()
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                *("-m", "uvicorn", f"{self.spec.module}.main:create_app", "--factory"),
                *("--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"),
                env={**self.env, f"{self.spec.prefix}PORT": str(self.port)},
                stderr=log,
                start_new_session=True,
                cwd=self.log_path.parent,  # no .env of the developer's is read
            )
        finally:
            log.close()  # the child has its own
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    pytest.fail(f"{self.spec.name} exited at start: {self.log()}")
                try:
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        pytest.fail(f"{self.spec.name} did not answer /healthz: {self.log()}")

    def terminate(self) -> None:
        assert self.process is not None
        self.terminated_at = time.monotonic()
        self.process.send_signal(signal.SIGTERM)

    async def exit_code(self) -> int:
        """Waits for the exit after SIGTERM; fails the test if it takes over `EXIT_WITHIN`."""
        assert self.process is not None
        left = EXIT_WITHIN - (time.monotonic() - self.terminated_at)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout=max(left, 0.1))
        except TimeoutError:
            pytest.fail(f"{self.spec.name} still running {EXIT_WITHIN} s after SIGTERM")

    async def stopped(self) -> None:
        """SIGTERM, then a clean exit in time."""
        self.terminate()
        self.assert_clean_exit(await self.exit_code())

    def assert_clean_exit(self, code: int) -> None:
        log = self.log_path.read_text(errors="replace")
        assert code == STOPPED_CLEANLY, log[-4000:]
        assert "Application shutdown complete" in log, log[-4000:]
        assert "Traceback" not in log, log

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    def _log_file(self) -> Any:
        return open(self.log_path, "ab")  # noqa: SIM115 (the child holds it)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@dataclass
class Setting:
    """One test's service: its database, its key, its consumer group and how to start it."""

    spec: Spec
    database_url: str
    bootstrap: str
    token: str
    group: str
    env: dict[str, str]
    tmp_path: Path

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Service]:
        log = self.tmp_path / f"{self.spec.name}-{uuid4().hex[:6]}.log"
        service = Service(self.spec, self.env, log)
        try:
            yield await service.start()
        finally:
            await service.kill()

    connection: asyncpg.Connection | None = None

    async def query(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        """Runs `sql` on the test's database, `{schema}` standing for the service's schema."""
        if self.connection is None:  # one connection for the test: the server is shared
            dsn = make_url(self.database_url).set(drivername="postgresql")
            self.connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
        return await self.connection.fetch(sql.replace("{schema}", self.spec.schema), *args)


@pytest.fixture
async def setting(
    request: pytest.FixtureRequest,
    database_url: str,
    kafka_bootstrap: str,
    issue_api_key: Callable[..., str],
    api_keys_file: Path,
    tmp_path: Path,
) -> AsyncIterator[Setting]:
    spec: Spec = request.param
    if database_url.startswith("sqlite"):
        pytest.skip("a service process per test needs PostgreSQL; none answered")
    await upgrade(ROOT / "services" / spec.name, database_url)
    group = f"{spec.name}-{uuid4().hex[:8]}"
    env = minimal_env(
        **{
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "API_KEYS_FILE": str(api_keys_file),
            f"{spec.prefix}DATABASE_URL": database_url,
            f"{spec.prefix}CONSUMER_GROUP": group,
            f"{spec.prefix}LOG_JSON": "false",
        }
    )
    token = issue_api_key("admin")
    setting = Setting(spec, database_url, kafka_bootstrap, token, group, env, tmp_path)
    yield setting
    if setting.connection is not None:
        await setting.connection.close()


# -- the APIs: requests in flight, and their outbox ----------------------------------------------


def standby_record(number: int) -> dict[str, Any]:
    return {
        "record_id": f"SB-{number}",
        "call_started_at": "2026-03-07T22:15:00+00:00",
        "answered_at": "2026-03-07T22:15:20+00:00",
        "ended_at": "2026-03-07T22:21:00+00:00",
        "category": "housing_repair",
        "service_area": "housing",
        "action_taken": "Emergency plumber sent",
        "requires_follow_up": number % 2 == 0,
    }


def enquiry() -> dict[str, Any]:
    return {
        "channel": "email",
        "service_area": "waste",
        "received_at": "2026-03-02T10:00:00+00:00",
        "description": "My bin was not collected on Monday.",
    }


def complaint() -> dict[str, Any]:
    return {
        "received_at": (datetime.now(UTC) - timedelta(minutes=30)).isoformat(),
        "channel": "email",
        "service_area": "waste",
        "description": "My bin was missed three weeks running.",
    }


REQUESTS: dict[str, list[tuple[str, Callable[[], Any]]]] = {
    # A standby batch of 1,000 records is seconds of work; the creates are many at once.
    "enquiry-api": [("/v1/standby/call-records", lambda: [standby_record(i) for i in range(1000)])]
    + [("/v1/enquiries", enquiry)] * 20,
    "complaints-api": [("/v1/complaints", complaint)] * 30,
}


@pytest.mark.parametrize("setting", [ENQUIRY, COMPLAINTS], indirect=True, ids=lambda s: s.name)
async def test_an_api_answers_every_request_in_flight_and_its_relay_stops_between_batches(
    setting: Setting,
) -> None:
    start = await end_offsets(setting.bootstrap, [CONTACT_EVENTS])
    headers = {"Authorization": f"Bearer {setting.token}"}
    async with setting.running() as service:
        async with httpx.AsyncClient(
            base_url=service.url,
            headers=headers,
            timeout=60,
            limits=httpx.Limits(max_connections=100),
        ) as client:

            async def send(path: str, body: Any) -> tuple[httpx.Response, float]:
                response = await client.post(path, json=body)
                return response, time.monotonic()

            requests = REQUESTS[setting.spec.name]
            calls = [asyncio.create_task(send(path, body())) for path, body in requests]
            # The first commit shows the server is working on them: stop it now.
            await until(
                lambda: rows(setting, "SELECT count(*) FROM {schema}.outbox_message"),
                lambda count: count > 0,
                what="a request to commit",
            )
            service.terminate()
            answered = await asyncio.gather(*calls)
        service.assert_clean_exit(await service.exit_code())

    for response, _ in answered:
        assert 200 <= response.status_code < 300, response.text
        assert response.json(), "a whole body"
    finished_after = [at for _, at in answered if at > service.terminated_at]
    assert finished_after, "no request was still in flight at SIGTERM: the test proved nothing"
    await assert_relay_clean(setting, CONTACT_EVENTS, start, all_published=False)

    # Started again, the relay publishes what waited, and nothing twice.
    async with setting.running() as again:
        await until(
            lambda: rows(
                setting, "SELECT count(*) FROM {schema}.outbox_message WHERE published_at IS NULL"
            ),
            lambda count: count == 0,
            what="the rows left to be published",
        )
        await again.stopped()
    await assert_relay_clean(setting, CONTACT_EVENTS, start, all_published=True)


# -- the consumers: offsets committed for exactly what was handled --------------------------------


@pytest.mark.parametrize("setting", [SLA, METRICS], indirect=True, ids=lambda s: s.name)
async def test_a_consumer_commits_what_it_handled_and_a_restart_repeats_nothing(
    setting: Setting,
) -> None:
    topics = [CONTACT_EVENTS, SLA_EVENTS] if setting.spec is METRICS else [CONTACT_EVENTS]
    # The group starts at today's end of the session's topics: only this test's events count.
    start = await end_offsets(setting.bootstrap, topics, commit_for=setting.group)
    sla_start = await end_offsets(setting.bootstrap, [SLA_EVENTS])
    setting.env["SLA_CONSUMER_BATCH_SIZE"] = "50"  # sla-monitor: more, smaller batches
    inbox = "SELECT count(*) FROM {schema}.inbox_message"
    sent: list[UUID] = []
    async with setting.running() as service:
        # A first chunk, then (once the consumer has joined and handled some of it) the rest as a
        # trickle over ~3 s: SIGTERM lands while events are still arriving, however long the
        # consumer took to join its group on a loaded machine.
        first_batch_handled = asyncio.Event()
        publishing = asyncio.create_task(
            publish_enquiries(
                setting.bootstrap,
                STREAM,
                ids=sent,
                chunk=STREAM // 30,
                after_first_chunk=first_batch_handled,
            )
        )
        await until(lambda: rows(setting, inbox), lambda count: count > 0, what="a first batch")
        first_batch_handled.set()
        service.terminate()
        service.assert_clean_exit(await service.exit_code())
        await publishing

    handled = {
        r["event_id"] for r in await setting.query("SELECT event_id FROM {schema}.inbox_message")
    }
    assert 0 < len(handled) < STREAM, "SIGTERM did not come mid-stream: the test proved nothing"
    committed = await committed_offsets(setting.bootstrap, setting.group, start)
    up_to_commit = await read_ids(setting.bootstrap, start, committed)
    assert Counter(up_to_commit) == Counter(handled), (
        "committed offsets differ from what was handled"
    )
    if setting.spec is SLA:  # metrics-api publishes nothing
        await assert_relay_clean(setting, SLA_EVENTS, sla_start, all_published=None)

    async with setting.running() as again:
        await until(lambda: rows(setting, inbox), lambda count: count == STREAM, what="the rest")
        consumed = await consumed_total(again.url, setting.group)
        await again.stopped()
    assert consumed == STREAM - len(handled), "an event was handed to the service twice"
    handled = {
        r["event_id"] for r in await setting.query("SELECT event_id FROM {schema}.inbox_message")
    }
    assert handled == set(sent)
    everything = await read_ids(
        setting.bootstrap, start, await committed_offsets(setting.bootstrap, setting.group, start)
    )
    assert sorted(everything) == sorted(sent), "the group's offsets do not cover the stream exactly"
    if setting.spec is SLA:  # metrics-api publishes nothing
        await assert_relay_clean(setting, SLA_EVENTS, sla_start, all_published=None)


# -- helpers ------------------------------------------------------------------------------------


async def rows(setting: Setting, sql: str) -> int:
    [record] = await setting.query(sql)
    return int(record[0])


async def until(
    probe: Callable[[], Any], holds: Callable[[Any], bool], *, what: str, timeout: float = 60
) -> None:
    """Polls `probe()` until `holds(value)`; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not holds(value := await probe()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what} (last: {value!r})")
        await asyncio.sleep(0.02)


async def partitions(consumer: AIOKafkaConsumer, topics: Iterable[str]) -> list[TopicPartition]:
    await consumer.topics()  # fetches the metadata
    return [
        TopicPartition(topic, p)
        for topic in topics
        for p in sorted(consumer.partitions_for_topic(topic) or ())
    ]


async def end_offsets(
    bootstrap: str, topics: list[str], *, commit_for: str | None = None
) -> dict[TopicPartition, int]:
    """Each partition's end now; with `commit_for`, committed as that group's starting point."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=commit_for, enable_auto_commit=False
    )
    await consumer.start()
    try:
        assignment = await partitions(consumer, topics)
        consumer.assign(assignment)
        await skip_to_end(consumer, assignment)
        ends = {tp: await consumer.position(tp) for tp in assignment}
        if commit_for is not None:
            await consumer.commit(ends)
        return ends
    finally:
        await consumer.stop()


async def committed_offsets(
    bootstrap: str, group: str, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """The group's committed offsets, fetched as its own members do (OffsetFetch)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        return {tp: await consumer.committed(tp) for tp in partitions}
    finally:
        await consumer.stop()


async def read_ids(
    bootstrap: str, start: dict[TopicPartition, int], end: dict[TopicPartition, int] | None = None
) -> list[UUID]:
    """The event ids from `start` up to `end` (else the partitions' ends now), in offset order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: list[UUID] = []
    try:
        assignment = list(start)
        consumer.assign(assignment)
        if end is None:
            await skip_to_end(consumer, assignment)
            end = {tp: await consumer.position(tp) for tp in assignment}
        for tp in assignment:
            consumer.seek(tp, start[tp])
        deadline = time.monotonic() + 30
        waiting = {tp for tp in assignment if end.get(tp, start[tp]) > start[tp]}
        while waiting:
            if time.monotonic() > deadline:
                pytest.fail(f"could not read {sorted(waiting)} up to {end}")
            batches = await consumer.getmany(*waiting, timeout_ms=200)
            for tp, records in batches.items():
                found += [
                    UUID(orjson.loads(r.value)["id"])
                    for r in records
                    if start[tp] <= r.offset < end[tp]
                ]
            for tp in list(waiting):
                if await consumer.position(tp) >= end[tp]:
                    waiting.discard(tp)
    finally:
        await consumer.stop()
    return found


async def assert_relay_clean(
    setting: Setting, topic: str, start: dict[TopicPartition, int], *, all_published: bool | None
) -> None:
    """Every row marked published is on `topic` exactly once, and no row waiting is there.

    A row sent but not marked (a relay stopped mid-batch) would be on the topic while waiting,
    and would go out a second time once the relay started again.
    """
    outbox = await setting.query("SELECT event_id, published_at FROM {schema}.outbox_message")
    on_topic = Counter(await read_ids(setting.bootstrap, start))
    published = [r["event_id"] for r in outbox if r["published_at"] is not None]
    waiting = [r["event_id"] for r in outbox if r["published_at"] is None]
    assert [i for i in published if on_topic[i] != 1] == [], "published but not exactly once"
    assert [i for i in waiting if on_topic[i]] == [], "sent but not marked published"
    if all_published:
        assert not waiting and published
    if all_published is False:
        assert published, "the relay published nothing before it stopped"


async def publish_enquiries(
    bootstrap: str,
    count: int,
    *,
    ids: list[UUID] | None = None,
    chunk: int = 0,
    after_first_chunk: asyncio.Event | None = None,
) -> list[UUID]:
    """`count` enquiry.opened events straight onto contact.events, as enquiry-api's relay would.

    With `chunk`, a trickle: `chunk` events every 0.1 s, so a consumer is stopped while the stream
    is still arriving, however fast the machine handles it; with `after_first_chunk` too, the
    trickle waits after its first chunk until that event is set. Ids are appended to `ids` as sent.
    """
    producer = create_producer(bootstrap, client_id="sigterm-test")
    await producer.start()
    ids = [] if ids is None else ids
    try:
        futures = []
        for i in range(count):
            if chunk and i and i % chunk == 0:
                if i == chunk and after_first_chunk is not None:
                    await asyncio.gather(*futures)
                    await after_first_chunk.wait()
                await asyncio.sleep(0.1)
            event = EnquiryOpened.from_data(
                EnquiryOpenedData(
                    enquiry_id=uuid4(),
                    channel=Channel.web_form,
                    service_area="waste",
                    # One in ten a month old: sla-monitor's clocks breach, its relay has work.
                    received_at=datetime.now(UTC) - timedelta(days=30 if i % 10 == 0 else 0),
                    reference=f"ENQ-2026-{i:06d}",
                ),
                source="/enquiry-api",
            )
            ids.append(event.id)
            futures.append(
                await producer.send(
                    CONTACT_EVENTS,
                    value=encode_event(event),
                    key=event.subject.encode(),
                    headers=list(STRUCTURED_HEADERS),
                )
            )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return ids


async def consumed_total(url: str, group: str) -> float:
    """What the service's consumer has handed to its handler since it started."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{url}/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "events_consumed"
        for sample in family.samples
        if sample.name == "events_consumed_total" and sample.labels.get("group") == group
    )
