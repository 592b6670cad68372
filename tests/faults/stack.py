"""The whole system for the fault suite: one PostgreSQL database, a restartable broker, and the
four services as real processes started as `make run` starts them (scripts/run_local.py).

enquiry-api reaches PostgreSQL through the suite's TCP proxy (proxy.py), so a test can stall or
reset its connections; the other services connect directly. The soak (soak.py) puts every
service's database connections behind the proxy, and the broker behind a second one.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from proxy import TcpProxy
from sqlalchemy.engine import make_url

from contact_common.auth import issue_key
from contact_common.bus.kafka import ensure_topics
from contact_common.bus.topics import CONTACT_EVENTS, SLA_EVENTS
from contact_common.migrations import upgrade
from contact_devtools.broker import DevBroker, S3Store, free_port
from contact_devtools.processes import minimal_env
from contact_devtools.testing import create_database, drop_database

ROOT = Path(__file__).resolve().parents[2]

# (name, module, env prefix, schema), in the order scripts/run_local.py starts them.
SERVICES = [
    ("enquiry-api", "enquiry_api", "ENQUIRY_", "enquiry"),
    ("complaints-api", "complaints_api", "COMPLAINTS_", "complaints"),
    ("sla-monitor", "sla_monitor", "SLA_", "sla"),
    ("metrics-api", "metrics_api", "METRICS_", "metrics"),
]
CONSUMERS = {"sla-monitor": [CONTACT_EVENTS], "metrics-api": [CONTACT_EVENTS, SLA_EVENTS]}
# Fewer partitions than the default 6: tansu's S3 store does work per partition fetched.
PARTITIONS = 3

# The seconds-long commitments (phone-answer, reception-attend) apply only in office hours on a
# working day, and the suite must pass at any hour: the contacts are dated on a Wednesday
# morning in the past, and sla-monitor's clock is moved there (SLA_CLOCK_OFFSET_SECONDS) so its
# timers run on the contacts' time at the real pace.
OFFICE_DAY = date(2026, 6, 3)
OFFICE_MORNING = datetime.combine(OFFICE_DAY, time(10), tzinfo=ZoneInfo("Europe/London"))


def asyncpg_dsn(url: str) -> str:
    """The URL as asyncpg takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class ServiceProcess:
    """One service as `make run` starts it: uvicorn on a port of its own."""

    name: str
    module: str
    prefix: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    pids: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Where it answers."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The process id of the running process, if one runs."""
        return self.process.pid if self.process is not None else None

    def start(self) -> ServiceProcess:
        """Starts the process (its log is appended to across restarts)."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    f"{self.module}.main:create_app",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--no-access-log",
                ],
                env={**self.env, f"{self.prefix}PORT": str(self.port)},
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.log_path.parent,  # no stray .env file of the developer's is read
            )
        self.pids.append(self.process.pid)
        return self

    def kill(self) -> int:
        """SIGKILL: no goodbye to the broker, no last commit. Returns the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        return self.process.wait(timeout=30)

    def terminate(self) -> int:
        """SIGTERM, as an orchestrator stops a container: the process finishes what it is doing
        and exits. Returns the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def stop(self) -> None:
        """A graceful stop (SIGTERM), SIGKILL if it does not go."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    async def wait_healthy(self, timeout: float = 60.0) -> None:
        """Waits until /healthz answers 200; fails if the process exits or time runs out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while loop.time() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited; see {self.log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.name} did not answer /healthz within {timeout} s")


@dataclass
class System:
    """Everything the fault tests drive and inspect."""

    database_url: str
    broker: DevBroker
    store: S3Store
    proxy: TcpProxy
    services: dict[str, ServiceProcess]
    token: str
    clock_offset: float
    work_dir: Path
    stops: contextlib.AsyncExitStack = field(repr=False)
    # In front of the broker, which advertises it to clients (the soak's system only).
    broker_proxy: TcpProxy | None = None

    @property
    def bootstrap(self) -> str:
        """The broker's address."""
        return self.broker.bootstrap_servers

    def office_now(self) -> datetime:
        """Now on sla-monitor's clock: the office morning the contacts are dated in."""
        return datetime.fromtimestamp(datetime.now(UTC).timestamp() + self.clock_offset, UTC)

    def client(self, name: str, *, timeout: float = 30.0) -> httpx.AsyncClient:
        """An HTTP client for one service, with the suite's key."""
        return httpx.AsyncClient(
            base_url=self.services[name].url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=timeout,
            # As a client's connection pool does: a slow service gets a queue, not a flood (and
            # the shared PostgreSQL server is not run out of connections by piled-up requests).
            limits=httpx.Limits(max_connections=6),
        )

    async def sql(self, query: str, *args: Any, attempts: int = 20) -> list[asyncpg.Record]:
        """Runs one read on the database, on a connection of its own, retried for a while:
        just after a restart the shared server refuses connections, or has none to spare."""
        for attempt in range(attempts):
            try:
                connection = await asyncpg.connect(asyncpg_dsn(self.database_url), timeout=10)
                try:
                    return await connection.fetch(query, *args)
                finally:
                    await connection.close()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.5)
        raise AssertionError("unreachable")

    async def group_lag(self, group: str, topic: str, highwater: dict[int, int]) -> int:
        """Messages of `topic` the consumer group has not committed, against known ends."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            behind = 0
            for partition, end in highwater.items():
                committed = await consumer.committed(TopicPartition(topic, partition)) or 0
                behind += max(end - committed, 0)
            return behind
        finally:
            await consumer.stop()


async def start_broker(
    work_dir: Path, stops: contextlib.AsyncExitStack, *, proxied: bool
) -> tuple[DevBroker, S3Store, TcpProxy | None]:
    """The broker on a local S3 store, its topics created; with `proxied`, behind a TCP proxy
    whose port the broker advertises, so every client connection (bootstrap and the ones the
    metadata names) passes the proxy. Each part is pushed on `stops`."""
    store = S3Store().start()
    stops.callback(store.stop)
    broker = DevBroker(
        storage=f"s3://{store.bucket}/", env=store.broker_env, log_path=work_dir / "broker.log"
    )
    proxy = None
    if proxied:
        proxy = await TcpProxy("127.0.0.1", broker.port).start()
        stops.push_async_callback(proxy.stop)
        broker.advertised_port = proxy.port
    stops.callback(broker.stop)  # the broker the tests restart: whichever process runs
    broker.start()
    await ensure_topics(broker.bootstrap_servers, partitions=PARTITIONS)
    return broker, store, proxy


async def start_system(
    postgres_server_url: str,
    work_dir: Path,
    *,
    proxy_broker: bool = False,
    proxy_every_database: bool = False,
) -> System:
    """Creates the database, broker, proxy and the four services, and waits until they serve.

    Only enquiry-api's database connections pass the proxy, unless `proxy_every_database`;
    `proxy_broker` puts the broker behind a proxy of its own (`System.broker_proxy`).
    What is started is stopped again by `stop_system`, or here if a later step fails, so a
    failed start leaves no broker or store running.
    """
    stops = contextlib.AsyncExitStack()
    try:
        database_url = await create_database(postgres_server_url, prefix="faults")
        stops.push_async_callback(drop_database, postgres_server_url, database_url)
        for service, _module, _prefix, _schema in SERVICES:
            await upgrade(ROOT / "services" / service, database_url)

        broker, store, broker_proxy = await start_broker(work_dir, stops, proxied=proxy_broker)

        url = make_url(database_url)
        proxy = await TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
        stops.push_async_callback(proxy.stop)
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)

        keys_file = work_dir / "api-keys.json"
        token = issue_key(keys_file, name="fault-suite", scopes=["admin"])
        clock_offset = (OFFICE_MORNING - datetime.now(UTC)).total_seconds()
        # Only what the services are meant to see, not the developer's settings.
        env = minimal_env(
            DATABASE_URL=proxied if proxy_every_database else database_url,
            KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap_servers,
            API_KEYS_FILE=str(keys_file),
            TOPIC_PARTITIONS=str(PARTITIONS),
            # tansu on its S3 store abandons a fetch of a backlog held only 50 ms (the
            # default): consumers restarted behind would starve (docs/decisions.md).
            KAFKA_FETCH_MAX_WAIT_MS="500",
            ENQUIRY_DATABASE_URL=proxied,
            SLA_CLOCK_OFFSET_SECONDS=str(clock_offset),
            PYTHONUNBUFFERED="1",
        )
        services = {
            service: ServiceProcess(service, module, prefix, env, work_dir / f"{service}.log")
            for service, module, prefix, _schema in SERVICES
        }
        # Stopped first (the stack unwinds in reverse), before the broker and the proxies, all
        # at once and off the event loop: the proxies run on this loop, and a service stopping
        # gracefully still talks through them (its last commit, its producer's flush).
        stops.push_async_callback(_stop_all, list(services.values()))
        for service in services.values():
            service.start()
        await asyncio.gather(*(s.wait_healthy(timeout=90) for s in services.values()))
        system = System(
            database_url=database_url,
            broker=broker,
            store=store,
            proxy=proxy,
            services=services,
            token=token,
            clock_offset=clock_offset,
            work_dir=work_dir,
            stops=stops,
            broker_proxy=broker_proxy,
        )
    except BaseException:
        await stops.aclose()
        raise
    return system


async def _stop_all(services: list[ServiceProcess]) -> None:
    """Stops the services together, each in a thread of its own."""
    await asyncio.gather(*(asyncio.to_thread(service.stop) for service in services))


async def stop_system(system: System) -> None:
    """Stops every process the suite started, each even if another fails to, and drops its
    database."""
    await system.stops.aclose()
