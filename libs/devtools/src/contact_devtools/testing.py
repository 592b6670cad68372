"""Test fixtures for the whole repository: the real broker and the real database, never mocks.

They prefer what the environment provides for the tests (`TEST_KAFKA_BOOTSTRAP_SERVERS`,
`TEST_DATABASE_URL`; the services' own `KAFKA_BOOTSTRAP_SERVERS` and `DATABASE_URL` are the
developer's `make run` settings and never reach the tests, see contact_devtools.hermetic), then
testcontainers when a Docker engine answers, and otherwise start the bundled broker and use the
local PostgreSQL at 127.0.0.1:5432. Each test that needs a database gets a new PostgreSQL
database of its own, dropped afterwards (no cleaning by deletes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from contact_common.auth import issue_key
from contact_common.bus.binding import from_message
from contact_common.bus.kafka import ensure_topics
from contact_common.events import CloudEvent, EventDecodeError
from contact_common.logs import copy_logs_to
from contact_devtools.broker import DevBroker, S3Store, free_port

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", "test-artifacts"))
LOCAL_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
# One log per session process: pytest-xdist workers would otherwise write over each other.
SESSION_LOG = ARTIFACTS / (
    f"session-{os.environ['PYTEST_XDIST_WORKER']}.log"
    if "PYTEST_XDIST_WORKER" in os.environ
    else "session.log"
)
RUNS_LAST = "runs_last"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{RUNS_LAST}: runs after every other test of the session, e.g. to scan what they left",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Moves the tests marked runs_last to the end, in their own order."""
    items.sort(key=lambda item: item.get_closest_marker(RUNS_LAST) is not None)


@pytest.fixture(scope="session", autouse=True)
def session_log() -> Iterator[Path]:
    """Every log line of the session, structured and standard library, in test-artifacts."""
    ARTIFACTS.mkdir(exist_ok=True)
    with SESSION_LOG.open("w", encoding="utf-8") as stream:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        logging.getLogger().addHandler(handler)
        copy_logs_to(stream)
        try:
            yield SESSION_LOG
        finally:
            copy_logs_to(None)
            logging.getLogger().removeHandler(handler)


def docker_available() -> bool:
    """True when a Docker engine answers (never on the python-svc machines)."""
    if not os.path.exists("/var/run/docker.sock") and not os.environ.get("DOCKER_HOST"):
        return False
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


def _port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A Kafka-compatible broker for the whole session, with the platform's topics."""
    configured = os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        asyncio.run(ensure_topics(configured))
        yield configured
        return
    if docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer() as kafka:
            bootstrap = kafka.get_bootstrap_server()
            asyncio.run(ensure_topics(bootstrap))
            yield bootstrap
        return
    ARTIFACTS.mkdir(exist_ok=True)
    broker = DevBroker(log_path=ARTIFACTS / "broker.log").start()
    try:
        asyncio.run(ensure_topics(broker.bootstrap_servers))
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture
def restartable_broker(tmp_path: Path) -> Iterator[DevBroker]:
    """A broker of this test's own whose log survives a restart (tansu on a local S3 store)."""
    with contextlib.ExitStack() as stops:  # the store stopped even if the broker fails to start
        store = S3Store().start()
        stops.callback(store.stop)
        broker = DevBroker(
            storage=f"s3://{store.bucket}/", env=store.broker_env, log_path=tmp_path / "broker.log"
        )
        stops.callback(broker.stop)
        yield broker.start()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str | None]:
    """A URL of a PostgreSQL server that tests may create databases on; None if there is none."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured and configured.startswith("postgresql"):
        yield configured
        return
    if docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16", driver="asyncpg") as pg:
            yield pg.get_connection_url()
        return
    yield LOCAL_POSTGRES if _port_open("127.0.0.1", 5432) else None


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _on_server(server_url: str, statement: str) -> None:
    admin = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


async def create_database(server_url: str, *, prefix: str = "test") -> str:
    """A new, empty database on the PostgreSQL server at `server_url`; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    await _on_server(server_url, f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(server_url: str, database_url: str) -> None:
    """Drops the database `database_url` names from the server, its connections too."""
    name = make_url(database_url).database
    await _on_server(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def database_url(postgres_server_url: str | None, tmp_path: Path) -> AsyncIterator[str]:
    """A new, empty database for this test: PostgreSQL when there is one, else SQLite."""
    if postgres_server_url is None:
        if os.environ.get("CI"):
            pytest.fail("CI must test against PostgreSQL, and none answered on 127.0.0.1:5432")
        yield f"sqlite+aiosqlite:///{tmp_path}/test.db"
        return
    url = await create_database(postgres_server_url)
    yield url
    await drop_database(postgres_server_url, url)


@pytest.fixture
def api_keys_file(tmp_path: Path) -> Path:
    """An empty key file for this test."""
    return tmp_path / "api-keys.json"


@pytest.fixture
def issue_api_key(api_keys_file: Path) -> Callable[..., str]:
    """Issues keys into this test's key file: `issue_api_key("admin")`."""

    def issue(*scopes: str, name: str = "test") -> str:
        return issue_key(api_keys_file, name=name, scopes=scopes)

    return issue


class LiveServer:
    """A FastAPI app served by uvicorn on a real port in this event loop."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # log_config=None: uvicorn's loggers propagate to the root like every other library's,
        # so its errors reach the test's captured logs and the session log.
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            log_config=None,
        )
        self.server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LiveServer:
        self._task = asyncio.create_task(self.server.serve())
        for _ in range(500):
            if self.server.started:
                return self
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        raise TimeoutError("the server did not start")

    async def __aexit__(self, *_: Any) -> None:
        self.server.should_exit = True
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout=30)


async def skip_to_end(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], *, timeout: float = 20.0
) -> None:
    """Positions `consumer` after the last record now on each of `partitions`.

    `seek_to_end` alone is not enough: tansu answers a ListOffsets for the end with the first
    offset of a partition's last batch, so the rest of that batch would be read as new. The high
    watermark of a fetch response is right, so read on until the position reaches it.
    """
    await consumer.seek_to_end(*partitions)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        behind = [
            tp
            for tp in partitions
            if consumer.highwater(tp) is None
            or await consumer.position(tp) < consumer.highwater(tp)
        ]
        if not behind:
            return
        if loop.time() > deadline:
            raise TimeoutError(f"could not reach the end of {behind} within {timeout} s")
        await consumer.getmany(*behind, timeout_ms=100)


class EventTap:
    """Reads what is published to a topic from the moment it is opened (not earlier events)."""

    def __init__(self, bootstrap: str, topic: str, *, fetch_max_wait_ms: int = 100) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.consumer: AIOKafkaConsumer | None = None
        self.events: list[CloudEvent] = []
        self.raw: list[Any] = []

    async def __aenter__(self) -> EventTap:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            fetch_max_wait_ms=self.fetch_max_wait_ms,
        )
        await self.consumer.start()
        partitions = self.consumer.partitions_for_topic(self.topic) or set()
        assignment = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self.consumer.assign(assignment)
        # Resolve the end offsets now, before the test publishes.
        await skip_to_end(self.consumer, assignment)
        return self

    async def __aexit__(self, *_: Any) -> None:
        if self.consumer is not None:
            await self.consumer.stop()

    async def wait_for(
        self, predicate: Callable[[list[CloudEvent]], bool], *, timeout: float = 20.0
    ) -> list[CloudEvent]:
        """Reads until `predicate(events so far)` holds; fails the test after `timeout`."""
        assert self.consumer is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate(self.events):
            if loop.time() > deadline:
                pytest.fail(f"events on {self.topic} never satisfied the test: {self.events!r}")
            batches = await self.consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    self.raw.append(record)
                    self._decode(record)
        return self.events

    def _decode(self, record: Any) -> None:
        """Reads a record as a consumer does, in either content mode; a newer producer's event
        of a type this build does not know is kept raw only (another test may have written
        one), anything else that does not decode fails the test."""
        try:
            self.events.append(from_message(record, keep_unknown_values=True))
        except EventDecodeError as exc:
            if not exc.newer_producer:
                raise


@pytest.fixture
def event_tap(kafka_bootstrap: str) -> Callable[[str], EventTap]:
    """`async with event_tap("contact.events") as tap: ...; await tap.wait_for(...)`."""
    return lambda topic: EventTap(kafka_bootstrap, topic)


REPOSITORY = Path(__file__).resolve().parents[4]


@contextlib.asynccontextmanager
async def running_service(
    create_app: Callable[..., FastAPI],
    settings_class: type[Any],
    *,
    service: str,
    database_url: str,
    kafka_bootstrap: str,
    api_keys_file: Path,
    **overrides: Any,
) -> AsyncIterator[LiveServer]:
    """A service on a real port: its migrations applied, the real broker, this test's keys."""
    from contact_common.migrations import upgrade

    await upgrade(REPOSITORY / "services" / service, database_url)
    settings = settings_class(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        api_keys_file=api_keys_file,
        log_json=False,
        **overrides,
    )
    async with LiveServer(create_app(settings)) as server:
        yield server
