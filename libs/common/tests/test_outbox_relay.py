"""Tests for the transactional outbox and its relay, on the real broker and the real database:
an event exists only if its transaction commits, reaches Kafka keyed by its subject, promptly,
in order per key with several relays at once, and waits out a broker that is away."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import REGISTRY
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from contact_common.bus.binding import from_message
from contact_common.bus.kafka import ensure_topics
from contact_common.bus.relay import OutboxRelay
from contact_common.bus.relay.sender import OutboxSender, partition_for
from contact_common.bus.topics import CONTACT_EVENTS
from contact_common.db import (
    create_engine,
    create_session_factory,
    is_sqlite,
    service_metadata,
    transaction,
)
from contact_common.events import (
    Channel,
    CloudEvent,
    FeedbackSubmitted,
    FeedbackSubmittedData,
    decode_event,
    encode_event,
)
from contact_common.outbox import Outbox, outbox_table
from contact_devtools.broker import DevBroker, free_port
from contact_devtools.testing import EventTap

SCHEMA = "t_outbox"
metadata = service_metadata(SCHEMA)
outbox_message = outbox_table(metadata)


@dataclass
class Store:
    """This test's outbox schema on one database."""

    url: str
    engine: AsyncEngine
    factory: async_sessionmaker[AsyncSession]
    outbox: Outbox

    def relay(
        self, service: str, bootstrap: str, *, poll_interval: float, batch_size: int = 500
    ) -> OutboxRelay:
        return OutboxRelay(
            service=service,
            outbox=self.outbox,
            engine=self.engine,
            bootstrap_servers=bootstrap,
            poll_interval=poll_interval,
            batch_size=batch_size,
        )

    async def unpublished(self) -> int:
        async with self.factory() as session:
            return int(
                await session.scalar(
                    select(func.count())
                    .select_from(outbox_message)
                    .where(outbox_message.c.published_at.is_(None))
                )
                or 0
            )


@asynccontextmanager
async def open_store(url: str) -> AsyncIterator[Store]:
    engine = create_engine(url, schema=SCHEMA)
    async with engine.begin() as connection:
        if not is_sqlite(url):  # SQLite has no schemas: the engine translates it away
            await connection.exec_driver_sql(f'CREATE SCHEMA "{SCHEMA}"')
        await connection.run_sync(metadata.create_all)
    try:
        yield Store(url, engine, create_session_factory(engine), Outbox(outbox_message))
    finally:
        await engine.dispose()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async with open_store(database_url) as opened:
        yield opened


@pytest.fixture
def postgres_store(store: Store) -> Store:
    if is_sqlite(store.url):
        pytest.skip("needs PostgreSQL (advisory locks); none answered")
    return store


def feedback(feedback_id: uuid.UUID | None = None, score: int = 4) -> FeedbackSubmitted:
    """A feedback.submitted event about `feedback_id` (a new contact if none)."""
    feedback_id = feedback_id or uuid.uuid4()
    now = datetime.now(UTC)
    return FeedbackSubmitted(
        source="/test",
        subject=str(feedback_id),
        time=now,
        data=FeedbackSubmittedData(
            feedback_id=feedback_id,
            score=score,
            channel=Channel.portal,
            service_area="waste",
            submitted_at=now,
        ),
    )


async def commit(store: Store, *events: CloudEvent) -> None:
    """Adds the events to the outbox in one committed transaction."""
    async with transaction(store.factory) as session:
        await store.outbox.add_many(session, list(events))


@asynccontextmanager
async def running(*relays: OutboxRelay) -> AsyncIterator[None]:
    """Runs the relays for the block, then stops them and surfaces anything they raised."""
    tasks = [asyncio.create_task(relay.run()) for relay in relays]
    try:
        yield
    finally:
        for relay in relays:
            relay.stop()
        done, pending = await asyncio.wait(tasks, timeout=30)
        for task in pending:
            task.cancel()
        assert not pending, "a relay did not stop within 30 s"
        for task in done:
            task.result()


async def until(
    condition: Callable[[], Awaitable[bool]], *, what: str, timeout: float = 30.0
) -> None:
    """Polls `condition` until it holds; fails the test after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.1)


def ids_of(events: Sequence[CloudEvent]) -> list[uuid.UUID]:
    return [e.id for e in events]


def metric(name: str, service: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"service": service})


def relay_name() -> str:
    """A service name of the test's own, so its metrics are its own."""
    return f"t-outbox-{uuid.uuid4().hex[:8]}"


# -- publishing ----------------------------------------------------------------------------------


async def test_an_event_whose_transaction_rolls_back_is_never_published(
    store: Store, kafka_bootstrap: str, event_tap: Callable[[str], EventTap]
) -> None:
    rolled_back, committed = feedback(), feedback()

    with pytest.raises(RuntimeError, match="the caller's work failed"):
        async with transaction(store.factory) as session:
            await store.outbox.add(session, rolled_back)
            raise RuntimeError("the caller's work failed")
    assert await store.unpublished() == 0
    async with event_tap(CONTACT_EVENTS) as tap:
        await commit(store, committed)
        async with running(store.relay(relay_name(), kafka_bootstrap, poll_interval=0.2)):
            # The committed event was written after the rolled-back one: once it is out, the
            # rolled-back one would have been too.
            events = await tap.wait_for(lambda seen: committed.id in ids_of(seen))

    assert rolled_back.id not in ids_of(events)
    assert rolled_back.subject.encode() not in [record.key for record in tap.raw]


async def test_a_committed_event_is_published_keyed_by_subject_as_cloudevents_json(
    store: Store, kafka_bootstrap: str, event_tap: Callable[[str], EventTap]
) -> None:
    event = feedback(score=2)

    async with event_tap(CONTACT_EVENTS) as tap:
        await commit(store, event)
        async with running(store.relay(relay_name(), kafka_bootstrap, poll_interval=0.2)):
            await tap.wait_for(lambda seen: event.id in ids_of(seen))
            await until(lambda: _equals(store.unpublished, 0), what="the row to be marked sent")

    [record] = [r for r in tap.raw if decode_event(r.value).id == event.id]
    assert record.topic == CONTACT_EVENTS
    assert record.key == event.subject.encode()
    assert record.value == encode_event(event)
    document = orjson.loads(record.value)
    assert document["specversion"] == "1.0"
    assert document["type"] == "feedback.submitted"
    assert document["id"] == str(event.id)
    assert document["subject"] == event.subject
    assert document["data"]["score"] == 2
    assert decode_event(record.value) == event


async def test_the_relay_writes_structured_mode_that_the_cloudevents_sdk_reads(
    store: Store, kafka_bootstrap: str, event_tap: Callable[[str], EventTap]
) -> None:
    # A consumer following the CloudEvents Kafka binding (the SDK, Knative, connectors) takes a
    # message as binary mode unless its content-type starts with application/cloudevents.
    from cloudevents.core.bindings import kafka as sdk_kafka
    from cloudevents.core.formats.json import JSONFormat

    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    events = [feedback(score=3), feedback(score=5).with_extensions(traceparent=traceparent)]

    async with event_tap(CONTACT_EVENTS) as tap:
        await commit(store, *events)
        async with running(store.relay(relay_name(), kafka_bootstrap, poll_interval=0.2)):
            await tap.wait_for(lambda seen: set(ids_of(events)) <= set(ids_of(seen)))

    wanted = {str(event.id): event for event in events}
    records = [r for r in tap.raw if orjson.loads(r.value)["id"] in wanted]
    assert len(records) == 2
    for record in records:
        event = wanted[orjson.loads(record.value)["id"]]
        headers = dict(record.headers)
        assert headers["content-type"] == b"application/cloudevents+json; charset=UTF-8"
        assert headers["content-type"].startswith(b"application/cloudevents")
        message = sdk_kafka.KafkaMessage(headers=headers, key=record.key, value=record.value)
        # The SDK's own reading: no ce_ header, so structured; then the event from the value.
        for read in (
            sdk_kafka.from_structured(message, JSONFormat()),
            sdk_kafka.from_kafka(message, JSONFormat()),
        ):
            assert read.get_id() == str(event.id)
            assert read.get_type() == "feedback.submitted"
            assert read.get_source() == "/test"
            assert read.get_subject() == event.subject == record.key.decode()
            assert read.get_time() == event.time
            assert read.get_datacontenttype() == "application/json"
            assert read.get_data()["score"] == event.data.score
            assert read.get_extension("traceparent") == event.extensions.get("traceparent")
        assert record.value == encode_event(event)
        assert from_message(record) == event


async def test_the_relay_wakes_on_a_commit_in_this_process(
    store: Store, kafka_bootstrap: str, event_tap: Callable[[str], EventTap]
) -> None:
    name = relay_name()
    relay = store.relay(name, kafka_bootstrap, poll_interval=30)
    event = feedback()

    async with event_tap(CONTACT_EVENTS) as tap, running(relay):
        # The relay counts its backlog just before it goes idle for its 30 s poll.
        await until(lambda: _present(metric("outbox_backlog", name)), what="the relay to idle")
        await commit(store, event)
        # Well inside the poll interval: only the wake on commit explains it.
        seen = await tap.wait_for(lambda seen: event.id in ids_of(seen), timeout=5)
    assert ids_of(seen).count(event.id) == 1


async def test_a_relay_in_another_process_finds_the_rows_on_its_poll(
    postgres_store: Store, kafka_bootstrap: str, event_tap: Callable[[str], EventTap]
) -> None:
    # Another engine and another Outbox object: nothing in this process wakes this relay (no
    # NOTIFY: docs/decisions.md), so the row waits for the poll, and goes then.
    name = relay_name()
    async with open_other_engine(postgres_store) as other:
        relay = other.relay(name, kafka_bootstrap, poll_interval=2)
        event = feedback()
        async with event_tap(CONTACT_EVENTS) as tap, running(relay):
            await until(lambda: _present(metric("outbox_backlog", name)), what="the relay to idle")
            await commit(postgres_store, event)
            committed = asyncio.get_running_loop().time()
            seen = await tap.wait_for(lambda seen: event.id in ids_of(seen), timeout=10)
            waited = asyncio.get_running_loop().time() - committed
    assert ids_of(seen).count(event.id) == 1
    assert waited < 2 + 3, "the row waited longer than a poll (and the tap's own delay)"


async def test_relays_running_at_once_lose_nothing_and_keep_order_per_key(
    postgres_store: Store, kafka_bootstrap: str, event_tap: Callable[[str], EventTap]
) -> None:
    # Polls far apart: a row committed into a shard another pass held must go without one.
    poll = 60
    keys = [uuid.uuid4() for _ in range(10)]
    written: dict[str, list[uuid.UUID]] = defaultdict(list)
    here, also_here, elsewhere = relay_name(), relay_name(), relay_name()

    async with open_other_engine(postgres_store) as other, event_tap(CONTACT_EVENTS) as tap:
        relays = (
            postgres_store.relay(here, kafka_bootstrap, poll_interval=poll, batch_size=7),
            postgres_store.relay(also_here, kafka_bootstrap, poll_interval=poll, batch_size=7),
            other.relay(elsewhere, kafka_bootstrap, poll_interval=poll, batch_size=7),
        )
        async with running(*relays):
            for round_ in range(30):
                # Each transaction writes one event per key, the keys in a different order.
                events = [
                    feedback(keys[(round_ + i) % 10], score=round_ % 5 + 1) for i in range(10)
                ]
                await commit(postgres_store, *events)
                for event in events:
                    written[event.subject].append(event.id)
            wanted = {i for ids in written.values() for i in ids}
            seen = await tap.wait_for(lambda got: wanted <= set(ids_of(got)), timeout=30)
            await until(lambda: _equals(postgres_store.unpublished, 0), what="all rows sent")

    ours = [e for e in seen if e.id in wanted]
    assert len(ours) == 300, "an event was published twice"
    read_back: dict[str, list[uuid.UUID]] = defaultdict(list)
    for event in ours:
        read_back[event.subject].append(event.id)
    for key in written:
        assert read_back[key] == written[key], f"events of {key} out of order"
    published = [metric("outbox_published_total", n) or 0 for n in (here, also_here, elsewhere)]
    assert sum(published) == 300


async def test_a_relay_vacuums_its_outbox_once_it_has_marked_enough_rows(
    postgres_store: Store, kafka_bootstrap: str
) -> None:
    # Marked rows leave dead entries in the index of waiting rows that every pass steps over.
    relay = postgres_store.relay(relay_name(), kafka_bootstrap, poll_interval=0.2)
    relay.vacuum_after = 10

    async def vacuumed() -> bool:
        async with postgres_store.factory() as session:
            vacuumed_at = await session.scalar(
                text(
                    "SELECT last_vacuum FROM pg_stat_user_tables "
                    "WHERE schemaname = :schema AND relname = 'outbox_message'"
                ),
                {"schema": SCHEMA},
            )
        return vacuumed_at is not None

    assert not await vacuumed()
    async with running(relay):
        await commit(postgres_store, *[feedback() for _ in range(12)])
        await until(lambda: _equals(postgres_store.unpublished, 0), what="the rows marked sent")
        await until(vacuumed, what="a vacuum of the outbox")


# -- a broker that is away -----------------------------------------------------------------------


async def test_rows_wait_while_the_broker_is_away_and_go_when_it_returns(
    store: Store, tmp_path: Path
) -> None:
    broker = DevBroker(port=free_port(), log_path=tmp_path / "broker.log")
    name = relay_name()
    events = [feedback(), feedback(), feedback()]
    relay = store.relay(name, broker.bootstrap_servers, poll_interval=0.2)
    try:
        async with running(relay):
            await commit(store, *events)
            await until(
                lambda: _present(metric("outbox_publish_failures_total", name)),
                what="the relay to try the absent broker",
            )
            assert await store.unpublished() == 3
            # The backlog is what an operator watches while the broker is away.
            await until(
                lambda: _equal_to(metric("outbox_backlog", name), 3), what="a backlog of three"
            )

            broker.start()
            await ensure_topics(broker.bootstrap_servers, topics=(CONTACT_EVENTS,), partitions=3)
            records = await read_from_start(broker.bootstrap_servers, CONTACT_EVENTS, count=3)
            await until(lambda: _equals(store.unpublished, 0), what="the rows to be marked sent")
            await until(lambda: _equal_to(metric("outbox_backlog", name), 0), what="no backlog")
    finally:
        broker.stop()

    assert sorted(decode_event(r.value).id for r in records) == sorted(ids_of(events))
    assert {r.key for r in records} == {e.subject.encode() for e in events}


# -- SQLite, the embedded default ----------------------------------------------------------------


async def test_on_sqlite_a_committed_event_is_published_once(
    tmp_path: Path, kafka_bootstrap: str, event_tap: Callable[[str], EventTap]
) -> None:
    event, rolled_back = feedback(), feedback()
    async with open_store(f"sqlite+aiosqlite:///{tmp_path}/t.db") as sqlite_store:
        with pytest.raises(RuntimeError):
            async with transaction(sqlite_store.factory) as session:
                await sqlite_store.outbox.add(session, rolled_back)
                raise RuntimeError("the caller's work failed")
        name = relay_name()
        # A 30 s poll: only the in-process wake can publish promptly.
        relay = sqlite_store.relay(name, kafka_bootstrap, poll_interval=30)
        async with event_tap(CONTACT_EVENTS) as tap, running(relay):
            await until(lambda: _present(metric("outbox_backlog", name)), what="the relay to idle")
            await commit(sqlite_store, event)
            await tap.wait_for(lambda seen: event.id in ids_of(seen), timeout=5)
            await until(lambda: _equals(sqlite_store.unpublished, 0), what="the row marked sent")
            # One more round trip through the relay: nothing else of ours turns up.
            marker = feedback()
            await commit(sqlite_store, marker)
            seen = await tap.wait_for(lambda got: marker.id in ids_of(got), timeout=5)

    assert ids_of(seen).count(event.id) == 1
    assert rolled_back.id not in ids_of(seen)
    [record] = [r for r in tap.raw if decode_event(r.value).id == event.id]
    assert record.key == event.subject.encode()
    assert record.value == encode_event(event)


# -- helpers -------------------------------------------------------------------------------------


@asynccontextmanager
async def open_other_engine(store: Store) -> AsyncIterator[Store]:
    """The same outbox through another engine and Outbox object, as another process sees it."""
    engine = create_engine(store.url, schema=SCHEMA)
    try:
        yield Store(store.url, engine, create_session_factory(engine), Outbox(outbox_message))
    finally:
        await engine.dispose()


async def read_from_start(bootstrap: str, topic: str, *, count: int, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    """The first `count` records on `topic`, read from the beginning."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while len(records) < count:
            if loop.time() > deadline:
                pytest.fail(f"only {len(records)} of {count} records reached {topic}")
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def _equals(probe: Callable[[], Awaitable[int]], expected: int) -> bool:
    return await probe() == expected


async def _present(value: float | None) -> bool:
    return value is not None


async def _equal_to(value: float | None, expected: float) -> bool:
    return value == expected


# -- partitioning --------------------------------------------------------------------------------


def test_the_relay_puts_a_key_on_the_partition_aiokafka_send_would() -> None:
    # The relay builds its own batches: a key must still land where `send()` (and every other
    # Kafka client's default partitioner) puts it, or its events would change partition.
    partitioner = DefaultPartitioner()
    keys = [str(uuid.uuid4()).encode() for _ in range(300)]
    keys += [bytes(range(length)) for length in range(12)]  # every length of the tail
    for partitions in ([0, 1, 2], [0, 1, 2, 3, 4, 5], list(range(16))):
        for key in keys:
            assert partition_for(key, partitions) == partitioner(key, partitions, partitions)


# -- the sender alone ----------------------------------------------------------------------------


async def test_the_sender_keeps_each_key_in_order_on_the_partition_send_would_pick(
    kafka_bootstrap: str, event_tap: Callable[[str], EventTap]
) -> None:
    keys = [uuid.uuid4() for _ in range(4)]
    events = [feedback(keys[i % 4], score=i % 5 + 1) for i in range(40)]
    rows = [
        SimpleNamespace(id=i, topic=CONTACT_EVENTS, key=e.subject, payload=encode_event(e))
        for i, e in enumerate(events)
    ]
    sender = OutboxSender(kafka_bootstrap, client_id=relay_name())
    async with event_tap(CONTACT_EVENTS) as tap:
        try:
            # Returns once the broker has acknowledged every row.
            await sender.publish(rows)
        finally:
            await sender.close()
        wanted = set(ids_of(events))
        await tap.wait_for(lambda seen: wanted <= set(ids_of(seen)))
        assert tap.consumer is not None
        partitions = sorted(tap.consumer.partitions_for_topic(CONTACT_EVENTS) or ())

    ours = [record for record in tap.raw if decode_event(record.value).id in wanted]
    assert len(ours) == len(events), "an event was published twice"
    for key in keys:
        records = [record for record in ours if record.key == str(key).encode()]
        assert [decode_event(r.value).id for r in records] == [
            e.id for e in events if e.subject == str(key)
        ]
        assert {r.partition for r in records} == {
            DefaultPartitioner()(str(key).encode(), partitions, partitions)
        }
