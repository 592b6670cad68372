"""Fixtures for metrics-api's integration tests: a running service with a consumer group of its
own, a producer to the real broker, and a wait until the service has committed what was sent.

Tests share the broker and its topics with every other suite, so each test puts its events in a
financial year no other test uses and a service area of its own, and asserts only those figures.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from contact_common.bus.binding import to_message
from contact_common.bus.kafka import create_producer
from contact_common.events import CloudEvent, topic_for
from contact_devtools.testing import running_service
from metrics_api.config import Settings
from metrics_api.main import create_app


@dataclass
class Metrics:
    """A running metrics-api, a client with a metrics:read key, and the bus to feed it."""

    client: httpx.AsyncClient
    url: str
    group: str
    bootstrap: str
    producer: Any

    async def publish(self, events: Sequence[CloudEvent]) -> dict[TopicPartition, int]:
        """Sends events keyed by subject; returns the last offset written per partition."""
        # Structured mode with its content-type, as the services' relays write.
        messages = [(topic_for(event), to_message(event)) for event in events]
        futures = [
            await self.producer.send(topic, key=m.key, value=m.value, headers=m.headers)
            for topic, m in messages
        ]
        last: dict[TopicPartition, int] = {}
        for future in futures:
            metadata = await future
            tp = TopicPartition(metadata.topic, metadata.partition)
            last[tp] = max(last.get(tp, -1), metadata.offset)
        return last

    async def consumed(self, written: dict[TopicPartition, int], *, timeout: float = 90) -> None:
        """Waits until the service's group has committed past every offset written."""
        # A client of the group that never joins it: it only reads the group's committed offsets.
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=self.group, enable_auto_commit=False
        )
        await reader.start()
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while True:
                committed = {tp: await reader.committed(tp) for tp in written}
                if all(
                    committed[tp] is not None and committed[tp] > offset
                    for tp, offset in written.items()
                ):
                    return
                if loop.time() > deadline:
                    pytest.fail(f"the service never consumed {written}; committed {committed}")
                await asyncio.sleep(0.3)
        finally:
            await reader.stop()

    async def feed(self, events: Sequence[CloudEvent]) -> None:
        """Publishes events and waits until the service has counted them."""
        await self.consumed(await self.publish(events))

    async def get(self, path: str, **params: Any) -> Any:
        """GET a JSON answer, failing the test on an error status."""
        response = await self.client.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def unique_area() -> str:
    """A service area no other test's events carry."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def metrics_service(
    database_url: str,
    kafka_bootstrap: str,
    api_keys_file: Path,
    issue_api_key: Callable[..., str],
) -> Callable[..., Any]:
    """`async with metrics_service(**settings) as m:` a running service with its own group."""

    def start(**overrides: Any) -> Any:
        return _started(
            database_url, kafka_bootstrap, api_keys_file, issue_api_key("metrics:read"), overrides
        )

    return start


class _started:
    def __init__(
        self, database_url: str, bootstrap: str, keys: Path, token: str, overrides: dict[str, Any]
    ) -> None:
        self.args = (database_url, bootstrap, keys, token, overrides)
        self._stack: Any = None

    async def __aenter__(self) -> Metrics:
        database_url, bootstrap, keys, token, overrides = self.args
        group = f"metrics-test-{uuid.uuid4().hex[:10]}"
        self._service = running_service(
            create_app,
            Settings,
            service="metrics-api",
            database_url=database_url,
            kafka_bootstrap=bootstrap,
            api_keys_file=keys,
            consumer_group=group,
            **overrides,
        )
        server = await self._service.__aenter__()
        self._client = httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        self._producer = create_producer(bootstrap, client_id="metrics-test")
        await self._producer.start()
        return Metrics(self._client, server.url, group, bootstrap, self._producer)

    async def __aexit__(self, *exc: Any) -> None:
        await self._producer.stop()
        await self._client.aclose()
        await self._service.__aexit__(*exc)


@pytest.fixture
async def metrics(metrics_service: Callable[..., Any]) -> AsyncIterator[Metrics]:
    """A running metrics-api with the default settings."""
    async with metrics_service() as running:
        yield running
