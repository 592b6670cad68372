"""Tests for the consumer loop on the real broker and the real database: each event handled once,
what cannot be read dead-lettered with its reason while the partition carries on, a newer
producer's events tolerated, both CloudEvents content modes read, and offsets committed only
after the handler's transaction."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord, RecordMetadata
from prometheus_client import REGISTRY
from sqlalchemy import Column, Integer, String, Table, Uuid, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from contact_common.bus.binding import STRUCTURED_HEADERS, to_message
from contact_common.bus.consumer import ConsumedEvent, EventConsumer
from contact_common.bus.kafka import create_producer
from contact_common.bus.topics import CONTACT_EVENTS, dead_letter_topic
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
    encode_event,
)
from contact_common.inbox import claim_many, inbox_table
from contact_devtools.testing import skip_to_end

SCHEMA = "t_consumer"
metadata = service_metadata(SCHEMA)
inbox_message = inbox_table(metadata)
# One row per event the handler acted on: the work an event causes, done once.
handled_feedback = Table(
    "handled_feedback",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("subject", String(100), nullable=False),
    Column("score", Integer, nullable=False),
)

DEAD_LETTERS = dead_letter_topic(CONTACT_EVENTS)


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


@dataclass
class Reader:
    """A consumer group of the test's own, its handler and what the handler saw."""

    group: str
    bootstrap: str
    factory: async_sessionmaker[AsyncSession]
    delivered: list[ConsumedEvent] = field(default_factory=list)
    failures: int = 0
    failing: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, batch: Sequence[ConsumedEvent]) -> None:
        """Claims the batch in the inbox and records the fresh events, in one transaction."""
        self.delivered.extend(batch)
        async with transaction(self.factory) as session:
            fresh = await claim_many(
                session,
                inbox_message,
                consumer=self.group,
                events=[(item.event.id, item.event.type) for item in batch],
            )
            rows = [
                {
                    "event_id": item.event.id,
                    "subject": item.event.subject,
                    "score": item.event.data.score,  # type: ignore[attr-defined]
                }
                for item in batch
                if item.event.id in fresh
            ]
            if rows:
                await session.execute(insert(handled_feedback), rows)
            if self.failing.is_set():
                # After the work: the rollback must undo the rows and the claims alike.
                self.failures += 1
                raise RuntimeError("the database went away mid-transaction")

    def consumer(self) -> EventConsumer:
        return EventConsumer(
            group_id=self.group,
            topics=[CONTACT_EVENTS],
            bootstrap_servers=self.bootstrap,
            handler=self.handle,
            max_records=50,
        )

    def deliveries_of(self, event: CloudEvent) -> int:
        return sum(1 for item in self.delivered if item.event.id == event.id)

    async def handled(self, event: CloudEvent) -> int:
        async with self.factory() as session:
            return int(
                await session.scalar(
                    select(func.count())
                    .select_from(handled_feedback)
                    .where(handled_feedback.c.event_id == event.id)
                )
                or 0
            )


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, schema=SCHEMA)
    async with engine.begin() as connection:
        if not is_sqlite(database_url):
            await connection.exec_driver_sql(f'CREATE SCHEMA "{SCHEMA}"')
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def reader(kafka_bootstrap: str, engine: AsyncEngine) -> Reader:
    """A new group that starts at the topic's current end, so it reads only this test's events."""
    group = f"t-consumer-{uuid.uuid4().hex}"
    await commit_offsets_at_end(kafka_bootstrap, group, CONTACT_EVENTS)
    return Reader(group, kafka_bootstrap, create_session_factory(engine))


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = create_producer(kafka_bootstrap, client_id="t-consumer-producer")
    await producer.start()
    yield producer
    await producer.stop()


async def send(
    producer: AIOKafkaProducer,
    value: bytes,
    key: str,
    headers: list[tuple[str, bytes]] | None = None,
) -> RecordMetadata:
    """Produces one record to contact.events (structured mode unless told); where it landed."""
    return await producer.send_and_wait(
        CONTACT_EVENTS,
        value=value,
        key=key.encode(),
        headers=list(STRUCTURED_HEADERS) if headers is None else headers,
    )


async def send_event(producer: AIOKafkaProducer, event: CloudEvent) -> int:
    """Produces `event` keyed by its subject; the partition it landed on."""
    return (await send(producer, encode_event(event), event.subject)).partition


# -- each event handled once ---------------------------------------------------------------------


async def test_an_event_produced_twice_is_handled_once(
    reader: Reader, producer: AIOKafkaProducer
) -> None:
    event = feedback()
    # Same contact, so the same partition: each is read after the copies before it.
    marker, later = feedback(uuid.UUID(event.subject)), feedback(uuid.UUID(event.subject))
    for _ in range(3):  # copies in one batch (a republished outbox row)
        await send_event(producer, event)
    await send_event(producer, marker)

    async with consuming(reader.consumer()):
        await until(lambda: _at_least(reader.handled(marker), 1), what="the first events")
        # A copy in a batch of its own: only the inbox can tell it was handled before.
        await send_event(producer, event)
        await send_event(producer, later)
        await until(lambda: _at_least(reader.handled(later), 1), what="the later event")

    assert await reader.handled(event) == 1
    assert await reader.handled(marker) == 1
    assert reader.deliveries_of(event) >= 2, "the inbox was never put to the test"


# -- poison messages -----------------------------------------------------------------------------


@dataclass
class Poison:
    value: bytes
    reason: str  # what the dead-letter reason must say


def poisons(subject: str) -> list[Poison]:
    valid = orjson.loads(encode_event(feedback(uuid.UUID(subject))))
    no_envelope = {"type": "feedback.exploded", "data": valid["data"]}
    wrong_field = {**valid, "data": {**valid["data"], "score": "call me on 07700 900123"}}
    return [
        Poison(b'{"type": "feedback.submitted", "data": ', "not JSON"),
        Poison(orjson.dumps(no_envelope), "not a CloudEvent: 'feedback.exploded' without"),
        Poison(orjson.dumps(wrong_field), "invalid feedback.submitted: data.score"),
    ]


async def test_poison_goes_to_the_dead_letters_and_the_partition_carries_on(
    reader: Reader, producer: AIOKafkaProducer, kafka_bootstrap: str
) -> None:
    key = uuid.uuid4()
    before, after = feedback(key, score=1), feedback(key, score=5)
    bad = poisons(str(key))

    async with RawTap(kafka_bootstrap, DEAD_LETTERS) as dead_letters:
        partition = await send_event(producer, before)
        landed = [await send(producer, p.value, str(key)) for p in bad]
        assert [r.partition for r in landed] == [partition] * 3, "one key, one partition"
        await send_event(producer, after)
        async with consuming(reader.consumer()):
            await until(lambda: _at_least(reader.handled(after), 1), what="the event after")
            records = await dead_letters.wait_for(
                lambda got: len([r for r in got if r.key == str(key).encode()]) >= 3
            )

    assert await reader.handled(before) == 1
    ours = [r for r in records if r.key == str(key).encode()]
    assert [r.value for r in ours] == [p.value for p in bad]
    for record, poison, origin in zip(ours, bad, landed, strict=True):
        headers = {name: value.decode() for name, value in record.headers}
        assert poison.reason in headers["dlq.reason"], headers["dlq.reason"]
        assert headers["dlq.topic"] == CONTACT_EVENTS
        assert headers["dlq.partition"] == str(origin.partition)
        assert headers["dlq.offset"] == str(origin.offset)
        assert headers["dlq.group"] == reader.group
        assert headers["content-type"] == "application/cloudevents+json; charset=UTF-8"
    # A dead-letter reason names what is wrong, never the value (it may be personal data).
    assert "07700" not in dict(ours[2].headers)["dlq.reason"].decode()
    assert [item.event.id for item in reader.delivered] == [before.id, after.id]


# -- a newer producer's events ------------------------------------------------------------------


async def test_a_newer_producer_s_events_are_tolerated_not_dead_lettered(
    reader: Reader, producer: AIOKafkaProducer, kafka_bootstrap: str
) -> None:
    key = uuid.uuid4()
    before, after = feedback(key, score=1), feedback(key, score=5)
    newer_channel = orjson.loads(encode_event(feedback(key, score=3)))
    newer_channel["data"]["channel"] = "whatsapp"
    newer_type = {**orjson.loads(encode_event(feedback(key))), "type": "feedback.withdrawn"}
    newer_type["id"] = str(uuid.uuid4())
    counted = unknown_count(reader.group, "feedback.submitted", "unknown_value")
    skipped = unknown_count(reader.group, "feedback.withdrawn", "unknown_type")

    async with RawTap(kafka_bootstrap, DEAD_LETTERS) as dead_letters:
        await send_event(producer, before)
        await send(producer, orjson.dumps(newer_type), str(key))
        await send(producer, orjson.dumps(newer_channel), str(key))
        await send(producer, orjson.dumps(newer_type), str(key))
        await send(producer, b"not an event", str(key))  # the control: dead-lettered
        await send_event(producer, after)
        async with consuming(reader.consumer()):
            await until(lambda: _at_least(reader.handled(after), 1), what="the event after")
            records = await dead_letters.wait_for(
                lambda got: any(r.key == str(key).encode() for r in got)
            )

    assert [r.value for r in records if r.key == str(key).encode()] == [b"not an event"]
    # The unknown type was committed past; the unknown channel handed over as it came.
    handed = [item.event for item in reader.delivered]
    assert [event.id for event in handed] == [before.id, uuid.UUID(newer_channel["id"]), after.id]
    assert handed[1].data.channel == "whatsapp"  # type: ignore[attr-defined]
    assert not handed[1].data.channel.recognised  # type: ignore[attr-defined]
    assert unknown_count(reader.group, "feedback.submitted", "unknown_value") == counted + 1
    assert unknown_count(reader.group, "feedback.withdrawn", "unknown_type") == skipped + 2


async def test_binary_mode_from_the_cloudevents_sdk_is_consumed(
    reader: Reader, producer: AIOKafkaProducer
) -> None:
    # A producer outside the platform following the binding, in binary mode.
    from cloudevents.core.bindings import kafka as sdk_kafka
    from cloudevents.core.formats.json import JSONFormat
    from cloudevents.core.v1.event import CloudEvent as SdkEvent

    ours = feedback(score=2)
    sdk_event = SdkEvent(
        attributes={
            "id": str(ours.id),
            "source": "/telephony-bridge",
            "type": "feedback.submitted",
            "subject": ours.subject,
            "time": ours.time,
            "datacontenttype": "application/json",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        },
        data=orjson.loads(encode_event(ours))["data"],
    )
    message = sdk_kafka.to_binary(sdk_event, JSONFormat(), key_mapper=lambda e: e.get_subject())
    assert "ce_type" in message.headers and message.headers["content-type"] == b"application/json"
    structured = feedback(uuid.UUID(ours.subject), score=4)

    await send(producer, message.value, ours.subject, headers=list(message.headers.items()))
    await send(producer, to_message(structured).value, structured.subject)
    async with consuming(reader.consumer()):
        await until(lambda: _at_least(reader.handled(structured), 1), what="both events")

    [binary] = [item.event for item in reader.delivered if item.event.id == ours.id]
    assert binary.source == "/telephony-bridge" and binary.data == ours.data
    assert binary.extensions == {"traceparent": sdk_event.get_extension("traceparent")}
    assert await reader.handled(ours) == 1


def unknown_count(group: str, event_type: str, reason: str) -> float:
    labels = {"consumer": group, "type": event_type, "reason": reason}
    return REGISTRY.get_sample_value("events_unknown_total", labels) or 0.0


# -- offsets -------------------------------------------------------------------------------------


async def test_a_failing_handler_is_retried_and_the_event_handled_once(
    reader: Reader, producer: AIOKafkaProducer, kafka_bootstrap: str
) -> None:
    event = feedback()
    start = await committed_offsets(kafka_bootstrap, reader.group, CONTACT_EVENTS)
    reader.failing.set()

    async with consuming(reader.consumer()):
        partition = await send_event(producer, event)
        tp = TopicPartition(CONTACT_EVENTS, partition)
        await until(lambda: _true(reader.failures >= 1), what="the handler to fail")
        # Nothing is committed past an event whose transaction rolled back.
        committed = await committed_offsets(kafka_bootstrap, reader.group, CONTACT_EVENTS)
        assert committed[tp] == start[tp]
        assert await reader.handled(event) == 0

        reader.failing.clear()
        await until(lambda: _at_least(reader.handled(event), 1), what="the retry to succeed")
        await until(
            lambda: _committed_past(kafka_bootstrap, reader.group, tp, start[tp]),
            what="the offset to be committed",
        )

    assert await reader.handled(event) == 1
    assert reader.deliveries_of(event) >= 2
    committed = await committed_offsets(kafka_bootstrap, reader.group, CONTACT_EVENTS)
    assert committed[tp] == start[tp] + 1


async def test_after_stop_the_group_does_not_handle_committed_events_again(
    reader: Reader, producer: AIOKafkaProducer
) -> None:
    first, second, third = feedback(), feedback(), feedback()

    async with consuming(reader.consumer()):
        await send_event(producer, first)
        await send_event(producer, second)
        await until(lambda: _at_least(reader.handled(second), 1), what="the first events")
        await until(lambda: _at_least(reader.handled(first), 1), what="the first events")

    handled_before = list(reader.delivered)
    reader.delivered.clear()
    await send_event(producer, third)
    async with consuming(reader.consumer()):
        await until(lambda: _at_least(reader.handled(third), 1), what="the new event")

    assert {item.event.id for item in handled_before} == {first.id, second.id}
    assert [item.event.id for item in reader.delivered] == [third.id]


# -- helpers -------------------------------------------------------------------------------------


@asynccontextmanager
async def consuming(consumer: EventConsumer) -> AsyncIterator[EventConsumer]:
    """Runs the consumer for the block, then stops it and surfaces anything it raised."""
    task = asyncio.create_task(consumer.run())
    try:
        yield consumer
    finally:
        consumer.stop()
        done, _ = await asyncio.wait([task], timeout=30)
        if not done:
            task.cancel()
            pytest.fail("the consumer did not stop within 30 s")
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


async def _at_least(count: Awaitable[int], expected: int) -> bool:
    return await count >= expected


async def _true(value: bool) -> bool:
    return value


async def _committed_past(bootstrap: str, group: str, tp: TopicPartition, offset: int) -> bool:
    return (await committed_offsets(bootstrap, group, tp.topic))[tp] > offset


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]


async def commit_offsets_at_end(bootstrap: str, group: str, topic: str) -> None:
    """Commits `group`'s offsets at the end of every partition of `topic`."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, fetch_max_wait_ms=100
    )
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topic)
        consumer.assign(partitions)
        await skip_to_end(consumer, partitions)
        await consumer.commit({tp: await consumer.position(tp) for tp in partitions})
    finally:
        await consumer.stop()


async def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[TopicPartition, int]:
    """What `group` has committed on each partition of `topic` (read without joining it)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        return {tp: await consumer.committed(tp) or 0 for tp in await _partitions(consumer, topic)}
    finally:
        await consumer.stop()


class RawTap:
    """Reads the raw records published to a topic from the moment it is opened."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
        )
        self.topic = topic
        self.records: list[ConsumerRecord] = []

    async def __aenter__(self) -> RawTap:
        await self.consumer.start()
        partitions = await _partitions(self.consumer, self.topic)
        self.consumer.assign(partitions)
        await skip_to_end(self.consumer, partitions)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.consumer.stop()

    async def wait_for(
        self, predicate: Callable[[list[ConsumerRecord]], bool], *, timeout: float = 30.0
    ) -> list[ConsumerRecord]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate(self.records):
            if loop.time() > deadline:
                pytest.fail(f"records on {self.topic} never satisfied the test: {self.records}")
            for batch in (await self.consumer.getmany(timeout_ms=200)).values():
                self.records.extend(batch)
        return self.records


# -- lingering for a larger batch ----------------------------------------------------------------


async def test_a_lingering_consumer_hands_over_what_came_meanwhile_in_one_batch(
    reader: Reader, producer: AIOKafkaProducer
) -> None:
    warm_up = feedback()
    subject = uuid.UUID(warm_up.subject)  # one contact: one partition, in order
    first, *later = feedback(subject), feedback(subject), feedback(subject)
    batches: list[list[uuid.UUID]] = []

    async def handle(batch: Sequence[ConsumedEvent]) -> None:
        batches.append([item.event.id for item in batch])
        await reader.handle(batch)

    consumer = reader.consumer()
    consumer.handler, consumer.linger_ms = handle, 1500
    async with consuming(consumer):
        # Once the warm-up is handled the consumer is assigned and fetching as it goes.
        await send_event(producer, warm_up)
        await until(lambda: _at_least(reader.handled(warm_up), 1), what="the warm-up")
        await send_event(producer, first)
        await asyncio.sleep(0.3)  # well within the linger that the first record starts
        for event in later:
            await send_event(producer, event)
        await until(lambda: _at_least(reader.handled(later[-1]), 1), what="the last event")

    after_warm_up = batches[[warm_up.id in batch for batch in batches].index(True) + 1 :]
    assert after_warm_up[0] == [first.id, *(event.id for event in later)]
    assert all([await reader.handled(event) == 1 for event in (first, *later)])
