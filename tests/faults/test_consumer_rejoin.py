"""A consumer whose group join is cut gets its partitions back.

The soak's first finding: a broker connection reset while a consumer was in the middle of joining
its group (its SyncGroup request) left aiokafka's member stuck for good, nothing raised, and its
partitions unread. Here the proxy the broker advertises resets every connection when the first
SyncGroup passes, before the broker sees it, and the consumer must still read what is published.

What this does not show: the stuck member itself. aiokafka 0.14 recovered from this cut on its own
in every try (also with `rejoin_stall_seconds` out of reach, and with a second member joining), so
the soak's state needs more than one cut SyncGroup; `EventConsumer`'s watchdog (a member not
settled in its group for `rejoin_stall_seconds` is started afresh) is the guard against it, and
`make soak SOAK_SEED=7` the way to see it (docs/soak.md).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest
from proxy import TcpProxy

from contact_common.bus.binding import to_message
from contact_common.bus.consumer import ConsumedEvent, EventConsumer
from contact_common.bus.kafka import create_producer, ensure_topics
from contact_common.events import Channel, FeedbackSubmitted, FeedbackSubmittedData
from contact_devtools.broker import DevBroker

TOPIC = "contact.events"
SYNC_GROUP = 14  # the Kafka protocol's api key of SyncGroup


@pytest.fixture
async def proxied_broker() -> AsyncIterator[tuple[DevBroker, TcpProxy]]:
    """A broker (its log in memory) that every client reaches through a proxy."""
    broker = DevBroker()
    proxy = await TcpProxy("127.0.0.1", broker.port).start()
    broker.advertised_port = proxy.port
    try:
        broker.start()
        await ensure_topics(broker.bootstrap_servers, topics=(TOPIC,), partitions=3)
        yield broker, proxy
    finally:
        await proxy.stop()
        broker.stop()


def feedback() -> FeedbackSubmitted:
    feedback_id = uuid.uuid4()
    now = datetime.now(UTC)
    return FeedbackSubmitted(
        source="/test",
        subject=str(feedback_id),
        time=now,
        data=FeedbackSubmittedData(
            feedback_id=feedback_id,
            score=4,
            channel=Channel.portal,
            service_area="waste",
            submitted_at=now,
        ),
    )


async def test_a_consumer_whose_sync_group_is_cut_reads_its_partitions(
    proxied_broker: tuple[DevBroker, TcpProxy],
) -> None:
    broker, proxy = proxied_broker
    events = [feedback() for _ in range(6)]  # keyed by contact: over the three partitions
    producer = create_producer(broker.bootstrap_servers, client_id="rejoin-test")
    await producer.start()
    try:
        for event in events:
            message = to_message(event)
            await producer.send_and_wait(
                TOPIC, value=message.value, key=message.key, headers=message.headers
            )
    finally:
        await producer.stop()

    handled: set[uuid.UUID] = set()
    everything = asyncio.Event()

    async def handle(batch: Sequence[ConsumedEvent]) -> None:
        handled.update(item.event.id for item in batch)
        if handled >= {event.id for event in events}:
            everything.set()

    proxy.cut_request(SYNC_GROUP)
    consumer = EventConsumer(
        group_id=f"rejoin-{uuid.uuid4().hex[:8]}",
        topics=(TOPIC,),
        bootstrap_servers=broker.bootstrap_servers,
        handler=handle,
        rejoin_stall_seconds=5.0,
    )
    running = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(everything.wait(), timeout=60)
    finally:
        consumer.stop()
        await asyncio.wait_for(running, timeout=30)

    assert proxy.stats.cuts == 1, "the proxy never saw a SyncGroup to cut"
    assert handled == {event.id for event in events}
