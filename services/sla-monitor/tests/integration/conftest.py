"""What the integration tests share: a producer on the real broker, the service with a clock."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contact_common.bus.kafka import create_producer
from contact_common.migrations import upgrade
from contact_devtools.broker import free_port
from contact_devtools.processes import minimal_env
from contact_devtools.testing import LiveServer, running_service
from sla_monitor.config import Settings
from sla_monitor.main import create_app
from sla_monitor.timekeeping import Clock


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """A producer to contact.events, as the other services' relays publish."""
    producer = create_producer(kafka_bootstrap, client_id="sla-monitor-tests")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


@pytest.fixture
def sla_monitor(
    database_url: str, kafka_bootstrap: str, api_keys_file: Path, issue_api_key: Callable[..., str]
) -> Callable[..., contextlib.AbstractAsyncContextManager[tuple[LiveServer, httpx.AsyncClient]]]:
    """`async with sla_monitor(clock) as (server, client)`: the service in this test's database,
    in a consumer group of its own, with a client holding an sla:read key."""
    token = issue_api_key("sla:read")

    @contextlib.asynccontextmanager
    async def start(
        clock: Clock | None = None, **overrides: Any
    ) -> AsyncIterator[tuple[LiveServer, httpx.AsyncClient]]:
        overrides.setdefault("consumer_group", f"sla-test-{uuid.uuid4().hex[:12]}")
        async with (
            running_service(
                lambda settings: create_app(settings, clock=clock),
                Settings,
                service="sla-monitor",
                database_url=database_url,
                kafka_bootstrap=kafka_bootstrap,
                api_keys_file=api_keys_file,
                **overrides,
            ) as server,
            httpx.AsyncClient(
                base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ) as client,
        ):
            yield server, client

    return start


REPOSITORY = Path(__file__).resolve().parents[4]
SERVICE_DIR = REPOSITORY / "services" / "sla-monitor"


class ServiceProcess:
    """sla-monitor as its own process (uvicorn), so a test can kill -9 it."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = minimal_env(**env, SLA_PORT=str(self.port), SLA_LOG_JSON="true")
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        """Starts the process (its log is appended to across restarts)."""
        with self.log_path.open("ab") as log:  # the child has its own
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "sla_monitor.main:create_app",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.log_path.parent,  # no .env of the developer's is read
            )
        return self

    def kill(self) -> None:
        """kill -9: no goodbye to the broker, no last commit."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self) -> None:
        """A graceful stop: the consumer leaves its group."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)

    def log_lines(self) -> list[dict[str, Any]]:
        """The process's structured log lines."""
        lines = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            if raw.startswith("{"):
                with contextlib.suppress(ValueError):
                    lines.append(json.loads(raw))
        return lines

    def owned(self) -> set[int] | None:
        """The partitions it last said it owned (None before its first assignment)."""
        found = None
        for line in self.log_lines():
            if line.get("event") in ("partitions assigned", "partitions revoked"):
                found = set(line["owned"])
        return found


@pytest.fixture
async def service_processes(
    database_url: str, kafka_bootstrap: str, api_keys_file: Path, tmp_path: Path
) -> AsyncIterator[Callable[..., ServiceProcess]]:
    """Makes sla-monitor processes on this test's database (migrated), stopped afterwards."""
    await upgrade(SERVICE_DIR, database_url)
    made: list[ServiceProcess] = []

    def make(name: str, **env: str) -> ServiceProcess:
        process = ServiceProcess(
            name,
            {
                "SLA_DATABASE_URL": database_url,
                "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
                "SLA_API_KEYS_FILE": str(api_keys_file),
                **env,
            },
            tmp_path,
        )
        made.append(process)
        return process

    yield make
    for process in made:
        if process.process is not None and process.process.poll() is None:
            process.process.kill()
            process.process.wait(timeout=30)
