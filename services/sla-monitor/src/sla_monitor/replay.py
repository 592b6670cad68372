"""Replay: rebuild the clocks from contact.events, from the beginning, through the live handler.

The clock tables (and this consumer's inbox) are emptied, every partition is read to the end it
had when the replay began, and each batch goes through the same handler the service uses, with
no notices published: the events were published when they happened. Clocks still running past
their deadline at the end are marked breached, as the timers would have. Stop the service (its
consumer group) first: two writers would race.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import delete

from contact_common.bus.consumer import ConsumedEvent, UnknownEvents, read_record
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
    done = undecodable = 0
    # Read as the live consumer reads: both content modes, a newer producer's events tolerated.
    unknown = UnknownEvents(f"{CONSUMER}-replay")
    assignment: list[TopicPartition] = []
    try:
        async with transaction(session_factory) as session:
            await repository.forget_clocks(session)
            await session.execute(delete(inbox_message).where(inbox_message.c.consumer == CONSUMER))
        await consumer.start()
        await consumer.topics()  # loads the topic metadata
        partitions = sorted(consumer.partitions_for_topic(CONTACT_EVENTS) or ())
        assignment = [TopicPartition(CONTACT_EVENTS, p) for p in partitions]
        consumer.assign(assignment)
        begin = await consumer.beginning_offsets(assignment)
        end = await consumer.end_offsets(assignment)
        total = sum(end[tp] - begin[tp] for tp in assignment)
        if progress:
            progress(0, total)
        await consumer.seek_to_beginning(*assignment)
        # Read each partition until a fetch finds nothing more: its end as the broker reports
        # it then (the offsets listed above only estimate the total for the progress bar).
        remaining = set(assignment)
        while remaining:
            batches = await consumer.getmany(timeout_ms=500, max_records=batch_size)
            for records in batches.values():
                batch: list[ConsumedEvent] = []
                seen: set[UUID] = set()
                for record in records:
                    try:
                        event = read_record(record, unknown)
                    except EventDecodeError:
                        undecodable += 1  # the live consumer sent it to the dead letters
                        continue
                    if event is not None and event.id not in seen:
                        seen.add(event.id)
                        batch.append(
                            ConsumedEvent(event, record.topic, record.partition, record.offset)
                        )
                if batch:
                    await handler(batch)
                done += len(records)
            if progress:
                progress(done, max(total, done))
            for tp in list(remaining):
                highwater = consumer.highwater(tp)
                position = await consumer.position(tp)
                if highwater is not None and position >= max(highwater, end[tp]):
                    remaining.discard(tp)
        async with transaction(session_factory) as session:
            overdue = await repository.flag_overdue(session, now=clock.now())
            clocks = await repository.count_clocks(session)
    finally:
        await consumer.stop()
        await engine.dispose()
    return ReplaySummary(
        partitions=len(assignment),
        events=done,
        undecodable=undecodable,
        clocks=clocks,
        overdue_flagged=overdue,
    )
