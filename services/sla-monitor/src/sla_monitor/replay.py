"""Replay: rebuild the clocks from contact.events, from the beginning, through the live handler.

The clock tables (and this consumer's inbox) are emptied, every partition is read to the end it
had when the replay began, and each batch goes through the same handler the service uses, with
no notices published: the events were published when they happened. Clocks still running past
their deadline at the end are marked breached, as the timers would have. Stop the service (its
consumer group) first: two writers would race.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_common.bus.consumer import BatchHandler, ConsumedEvent, UnknownEvents, read_record
from contact_common.bus.topics import CONTACT_EVENTS
from contact_common.db import create_engine, create_session_factory, transaction
from contact_common.events import EventDecodeError
from sla_monitor.clocks import repository
from sla_monitor.clocks.service import CONSUMER
from sla_monitor.config import Settings
from sla_monitor.consumers.contact_events import contact_events_handler
from sla_monitor.models import inbox_message
from sla_monitor.timekeeping import Clock


@dataclass(frozen=True)
class ReplaySummary:
    """What a replay read and rebuilt."""

    partitions: int
    events: int
    undecodable: int
    clocks: int
    overdue_flagged: int


async def replay(
    settings: Settings,
    *,
    clock: Clock,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = 2000,
) -> ReplaySummary:
    """Rebuilds the clocks from the start of contact.events; `progress(done, total)` as it goes."""
    policy = settings.commitments
    engine = create_engine(settings.effective_database_url, schema=settings.database_schema)
    session_factory = create_session_factory(engine)
    handler = contact_events_handler(
        session_factory=session_factory,
        policy=policy,
        calendar=settings.calendar,
        clock=clock,
        publish=False,
    )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.effective_client_id}-replay",
        enable_auto_commit=False,
        group_id=None,
    )
    assignment: list[TopicPartition] = []
    try:
        await _forget_clocks(session_factory)
        assignment, end, total = await _assign_every_partition(consumer)
        if progress:
            progress(0, total)
        reading = await _read_to_end(
            consumer,
            handler=handler,
            end=end,
            total=total,
            progress=progress,
            batch_size=batch_size,
        )
        async with transaction(session_factory) as session:
            overdue = await repository.flag_overdue(session, now=clock.now())
            clocks = await repository.count_clocks(session)
    finally:
        await consumer.stop()
        await engine.dispose()
    return ReplaySummary(
        partitions=len(assignment),
        events=reading.done,
        undecodable=reading.undecodable,
        clocks=clocks,
        overdue_flagged=overdue,
    )


@dataclass
class _Reading:
    """How far a replay has read: records read, and those that could not be decoded."""

    done: int = 0
    undecodable: int = 0


async def _forget_clocks(session_factory: async_sessionmaker[AsyncSession]) -> None:
    """Empties the clock tables and this consumer's inbox: every event is new to the replay."""
    async with transaction(session_factory) as session:
        await repository.forget_clocks(session)
        await session.execute(delete(inbox_message).where(inbox_message.c.consumer == CONSUMER))


async def _assign_every_partition(
    consumer: AIOKafkaConsumer,
) -> tuple[list[TopicPartition], dict[TopicPartition, int], int]:
    """Starts the consumer on every partition of contact.events: the partitions, their ends, and
    how many records lie between their beginnings and ends."""
    await consumer.start()
    await consumer.topics()  # loads the topic metadata
    partitions = sorted(consumer.partitions_for_topic(CONTACT_EVENTS) or ())
    assignment = [TopicPartition(CONTACT_EVENTS, p) for p in partitions]
    consumer.assign(assignment)
    begin = await consumer.beginning_offsets(assignment)
    end = await consumer.end_offsets(assignment)
    return assignment, end, sum(end[tp] - begin[tp] for tp in assignment)


async def _read_to_end(
    consumer: AIOKafkaConsumer,
    *,
    handler: BatchHandler,
    end: dict[TopicPartition, int],
    total: int,
    progress: Callable[[int, int], None] | None,
    batch_size: int,
) -> _Reading:
    """Reads every partition from its beginning through `handler`, until a fetch finds nothing
    more: its end as the broker reports it then (`end` and `total`, as they were when the
    replay began, only estimate the total for the progress bar)."""
    assignment = list(end)
    await consumer.seek_to_beginning(*assignment)
    # Read as the live consumer reads: both content modes, a newer producer's events tolerated.
    unknown = UnknownEvents(f"{CONSUMER}-replay")
    reading = _Reading()
    remaining = set(assignment)
    while remaining:
        batches = await consumer.getmany(timeout_ms=500, max_records=batch_size)
        for records in batches.values():
            batch = _decoded(records, unknown, reading)
            if batch:
                await handler(batch)
            reading.done += len(records)
        if progress:
            progress(reading.done, max(total, reading.done))
        for tp in list(remaining):
            highwater = consumer.highwater(tp)
            position = await consumer.position(tp)
            if highwater is not None and position >= max(highwater, end[tp]):
                remaining.discard(tp)
    return reading


def _decoded(
    records: Sequence[ConsumerRecord[Any, Any]], unknown: UnknownEvents, reading: _Reading
) -> list[ConsumedEvent]:
    """The batch of the records' events, each once; those that cannot be decoded are counted."""
    batch: list[ConsumedEvent] = []
    seen: set[UUID] = set()
    for record in records:
        try:
            event = read_record(record, unknown)
        except EventDecodeError:
            reading.undecodable += 1  # the live consumer sent it to the dead letters
            continue
        if event is not None and event.id not in seen:
            seen.add(event.id)
            batch.append(ConsumedEvent(event, record.topic, record.partition, record.offset))
    return batch
