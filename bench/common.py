"""What the benchmarks share: scratch databases, the broker, services as processes, statistics."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import asyncpg

from contact_common.auth import issue_key
from contact_common.migrations import upgrade
from contact_devtools.broker import DevBroker, free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
SERVER = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
WORK_DIR = ROOT / "var" / "bench"
POSTGRES_QUERY = "SELECT " + " || ".join(
    [
        "current_setting('server_version')",
        "' (synchronous_commit '",
        "current_setting('synchronous_commit')",
        "', fsync '",
        "current_setting('fsync')",
        "', shared_buffers '",
        "current_setting('shared_buffers')",
        "')'",
    ]
)


def log(message: str) -> None:
    """Progress on stderr, so stdout stays for results."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextlib.asynccontextmanager
async def scratch_database(
    prefix: str, *, service: str | None = None, server: str = SERVER
) -> AsyncIterator[str]:
    """A new PostgreSQL database on `server` (migrations of `service` applied), dropped
    afterwards.

    Yields the SQLAlchemy URL (postgresql+asyncpg://...).
    """
    name = f"bench_{prefix}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{server}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = f"{server.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
    try:
        if service:
            await upgrade(ROOT / "services" / service, url)
        yield url
    finally:
        admin = await asyncpg.connect(f"{server}/postgres")
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def plain_dsn(url: str) -> str:
    """The asyncpg DSN of a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


@contextlib.contextmanager
def broker() -> Iterator[DevBroker]:
    """The bundled broker (tansu, in memory), stopped afterwards."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    dev = DevBroker(log_path=WORK_DIR / "broker.log").start()
    try:
        yield dev
    finally:
        dev.stop()


def api_key(scopes: Sequence[str]) -> tuple[Path, str]:
    """A fresh key file with one key of `scopes`; returns the file and the token."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    path = WORK_DIR / "keys.json"  # each benchmark adds its own key
    token = issue_key(path, name="bench", scopes=list(scopes))
    return path, token


class Server:
    """A uvicorn process serving `app` as production does (uvloop, httptools, no access log)."""

    def __init__(self, app: str, *, env: dict[str, str] | None = None, app_dir: Path | None = None):
        self.app = app
        self.env = env or {}
        self.app_dir = app_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        command = [sys.executable, "-m", "uvicorn", self.app, "--factory", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--loop", "uvloop", "--http", "httptools"]
        command += ["--no-access-log", "--log-level", "warning"]
        if self.app_dir:
            command += ["--app-dir", str(self.app_dir)]
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        self._log = open(WORK_DIR / f"server-{self.port}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port("127.0.0.1", self.port, timeout=60)
        deadline = time.monotonic() + 60
        while True:  # the lifespan (topics, relay) has started once /healthz answers
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)
        return self

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None
        self._log.close()


def enquiry_env(url: str, bootstrap: str, keys: Path) -> dict[str, str]:
    """The environment of an enquiry-api process for a benchmark."""
    return {
        "ENQUIRY_DATABASE_URL": url,
        "DATABASE_URL": url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "API_KEYS_FILE": str(keys),
        "ENQUIRY_LOG_LEVEL": "WARNING",
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank; inf for no values."""
    if not values:
        return float("inf")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    """The median, or nan for no values."""
    return statistics.median(values) if values else float("nan")


def run_json(command: Sequence[str], *, timeout: float) -> dict:
    """Runs a helper process and parses the JSON it prints last on stdout."""
    done = subprocess.run(
        list(command), cwd=ROOT, capture_output=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{command[1:3]} failed ({done.returncode}): {done.stderr.decode()[-2000:]}"
        )
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def machine() -> dict[str, str]:
    """What this machine is: cores, memory, CPU, Python, PostgreSQL, load."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    postgres = "unknown"
    with contextlib.suppress(Exception):
        postgres = (
            subprocess.run(
                [
                    "psql",
                    f"{SERVER}/postgres",
                    "-Atc",
                    POSTGRES_QUERY,
                ],
                capture_output=True,
                timeout=10,
                check=True,
            )
            .stdout.decode()
            .strip()
        )
    return {
        "cores (nproc)": str(os.cpu_count()),
        "memory": memory,
        "CPU": cpu,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "PostgreSQL": postgres,
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


async def run_json_async(command: Sequence[str], *, timeout: float) -> dict:
    """`run_json` without blocking the event loop (so samplers can run meanwhile)."""
    import asyncio

    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    if process.returncode != 0:
        raise RuntimeError(
            f"{command[1:3]} failed ({process.returncode}): {stderr.decode()[-2000:]}"
        )
    return json.loads(stdout.decode().strip().splitlines()[-1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class WaitSampler:
    """Samples what the active PostgreSQL backends of one database wait on, every 50 ms."""

    def __init__(self, url: str) -> None:
        self.dsn = plain_dsn(url)
        self.database = self.dsn.rsplit("/", 1)[1]
        self.counts: dict[str, int] = {}
        self.samples = 0
        self._task = None

    async def __aenter__(self) -> WaitSampler:
        import asyncio

        self._connection = await asyncpg.connect(self.dsn)
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        import asyncio

        while True:
            rows = await self._connection.fetch(
                "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS what "
                "FROM pg_stat_activity WHERE datname = $1 AND state = 'active' "
                "AND pid <> pg_backend_pid()",
                self.database,
            )
            self.samples += 1
            for row in rows:
                self.counts[row["what"]] = self.counts.get(row["what"], 0) + 1
            await asyncio.sleep(0.05)

    async def __aexit__(self, *_: object) -> None:
        import asyncio

        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self._connection.close()

    def summary(self, top: int = 4) -> str:
        """The commonest waits, as the mean number of backends in each per sample."""
        if not self.samples:
            return "no samples"
        ordered = sorted(self.counts.items(), key=lambda item: -item[1])[:top]
        return ", ".join(f"{what} {count / self.samples:.1f}" for what, count in ordered)
