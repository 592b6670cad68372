"""aiokafka clients configured to work alike on Apache Kafka and on the bundled tansu broker."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from contact_common.bus.topics import CONTACT_EVENTS, SLA_EVENTS, dead_letter_topic

ALL_TOPICS = (
    CONTACT_EVENTS,
    SLA_EVENTS,
    dead_letter_topic(CONTACT_EVENTS),
    dead_letter_topic(SLA_EVENTS),
)


def create_producer(bootstrap_servers: str, *, client_id: str) -> AIOKafkaProducer:
    """A producer that waits for every in-sync replica and batches sends.

    Idempotence stays off: tansu does not support it, and per-key order is kept anyway because
    aiokafka sends one batch per partition at a time; consumers de-duplicate by event id.
    """
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=10_000,
        retry_backoff_ms=200,
    )


async def ensure_topics(
    bootstrap_servers: str,
    *,
    topics: tuple[str, ...] = ALL_TOPICS,
    partitions: int = 6,
    replication_factor: int = 1,
    timeout: float = 30.0,
) -> None:
    """Creates the topics that do not exist yet, retrying until the broker answers."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [
                NewTopic(name=t, num_partitions=partitions, replication_factor=replication_factor)
                for t in topics
                if t not in existing
            ]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(missing)
            return
        except (KafkaError, OSError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)
        finally:
            with contextlib.suppress(Exception):
                await admin.close()


async def broker_reachable(bootstrap_servers: str, *, timeout: float = 1.0) -> bool:
    """True if a TCP connection to any bootstrap server opens within `timeout`."""
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
        except (OSError, TimeoutError, ValueError):
            continue
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        return True
    return False
