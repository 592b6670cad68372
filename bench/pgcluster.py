"""A private PostgreSQL cluster for one benchmark: pg_stat_statements loaded, its CPU measurable.

The machine's PostgreSQL serves everyone (other test runs included) and has no
`shared_preload_libraries`, so where its time goes cannot be read there. `private_cluster()`
runs `initdb` and `postgres` of the same major version into a scratch directory on a free port,
with the machine server's settings for what matters to speed (shared_buffers, fsync,
synchronous_commit, max_wal_size) and pg_stat_statements preloaded; it is stopped and deleted
afterwards, on failure too. As root (a container) the server runs as the `postgres` user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from contact_devtools.broker import free_port, wait_for_port

LOG_COPY = Path(__file__).resolve().parent.parent / "var" / "bench" / "postgres.log"
BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
# Settings copied from the machine's server (Debian's defaults) so figures compare with it.
SETTINGS = {
    "shared_buffers": "128MB",
    "max_wal_size": "1GB",
    "fsync": "on",
    "synchronous_commit": "on",
    "max_connections": "200",
    "shared_preload_libraries": "pg_stat_statements,auto_explain",
    # The plans of slow statements go to the server's log, kept as var/bench/postgres.log.
    "auto_explain.log_min_duration": "3ms",
    "auto_explain.log_format": "text",
    "pg_stat_statements.track": "all",
    "pg_stat_statements.max": "2000",
    "track_io_timing": "on",
    "listen_addresses": "127.0.0.1",
    # A benchmark's tables start empty and grow by thousands of rows a minute. With the default
    # 60 s between autovacuum rounds, statements prepared while a table was empty keep their
    # sequential scans for up to a minute after it holds thousands of rows (auto_explain showed
    # sla.clock, metrics.counted_clock and the outboxes scanned whole per batch). A database in
    # service grows by that much in days, between many ANALYZEs; 5 s gets closer to that.
    "autovacuum_naptime": "5s",
}


@dataclass(frozen=True)
class Cluster:
    """A running private cluster: its server URL (no database) and its postmaster's pid."""

    server: str
    pid: int
    data: Path


def _bin(name: str) -> str:
    for directory in BIN_DIRS:
        if (directory / name).exists():
            return str(directory / name)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found (PostgreSQL server binaries are needed)")
    return found


def _as_owner(command: list[str]) -> list[str]:
    """initdb and postgres refuse root; run them as `postgres` when we are root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def private_cluster() -> Iterator[Cluster]:
    """Starts a fresh cluster (trust auth, user postgres) and yields it; stopped and removed."""
    root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    port = free_port()
    started = False
    try:
        subprocess.run(
            _as_owner([_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E",
                       "UTF8", "--no-sync"]),
            check=True, capture_output=True,
        )  # fmt: skip
        options = [f"-c {key}={value}" for key, value in SETTINGS.items()]
        options += [f"-p {port}", f"-k {root}"]
        subprocess.run(
            _as_owner([_bin("pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w",
                       "-o", " ".join(options), "start"]),
            check=True, capture_output=True,
        )  # fmt: skip
        started = True
        wait_for_port("127.0.0.1", port, timeout=30)
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
        yield Cluster(server=f"postgresql://postgres@127.0.0.1:{port}", pid=pid, data=data)
    finally:
        if started:
            subprocess.run(
                _as_owner([_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                check=False, capture_output=True,
            )  # fmt: skip
        with contextlib.suppress(OSError):
            LOG_COPY.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / "server.log", LOG_COPY)
        shutil.rmtree(root, ignore_errors=True)


def cluster_cpu_seconds(postmaster: int) -> float:
    """CPU seconds of the whole cluster so far: the postmaster, the children it has reaped
    (backends that ended) and those alive now (backends, WAL writer, checkpointer...)."""
    tick = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    total = sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            child = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(child[1]) == postmaster:
                total += int(child[11]) + int(child[12])
    return total / tick


STATEMENTS_QUERY = """
SELECT regexp_replace(query, '\\s+', ' ', 'g') AS query, calls, total_exec_time, rows,
       total_exec_time / greatest(calls, 1) AS mean_ms,
       100 * total_exec_time / sum(total_exec_time) OVER () AS share
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY total_exec_time DESC
LIMIT $1
"""


async def reset_statements(dsn: str) -> None:
    """Creates pg_stat_statements in the database if needed and forgets what it counted."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await connection.execute("SELECT pg_stat_statements_reset()")
    finally:
        await connection.close()


async def top_statements(dsn: str, top: int = 12) -> list[dict]:
    """The statements that took most of the server's execution time since the reset."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(STATEMENTS_QUERY, top)
        total = await connection.fetchval(
            "SELECT sum(total_exec_time) FROM pg_stat_statements WHERE dbid = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    finally:
        await connection.close()
    return [
        {
            "query": row["query"][:160],
            "calls": row["calls"],
            "total_ms": round(row["total_exec_time"], 1),
            "mean_ms": round(row["mean_ms"], 3),
            "rows": row["rows"],
            "share_pct": round(float(row["share"]), 1),
            "all_statements_ms": round(float(total or 0), 1),
        }
        for row in rows
    ]
