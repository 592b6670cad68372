"""`make run`: the whole system on one machine, on its embedded default.

Starts the bundled broker (unless KAFKA_BOOTSTRAP_SERVERS points at one), applies every
service's migrations (SQLite under var/ unless DATABASE_URL is set), makes sure there is an
admin API key (DEV_API_KEY if set), starts the four services, waits until each answers
/healthz and prints where they are.

It stops everything it started, services first and the broker last, however the run ends:
Ctrl-C, SIGTERM, SIGHUP (the terminal closed), a service that exits, or a step that fails. Each
process leads a group of its own, so the terminal's Ctrl-C reaches only this script, which
stops them in that order. Settings it cannot use (a DEV_API_KEY not shaped `cc_<id>_<secret>`,
a port that is not a number) are refused in one line before anything starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen
from typing import NoReturn

from contact_common.auth import KEY_PREFIX, is_key_shaped, issue_key, new_token
from contact_common.bus.kafka import ensure_topics
from contact_common.migrations import upgrade
from contact_devtools.broker import DevBroker
from contact_devtools.processes import start_group, stop_groups

ROOT = Path(__file__).resolve().parent.parent

SERVICES = [
    # (name, module, port, env prefix, schema)
    ("enquiry-api", "enquiry_api", 8001, "ENQUIRY_", "enquiry"),
    ("complaints-api", "complaints_api", 8002, "COMPLAINTS_", "complaints"),
    ("sla-monitor", "sla_monitor", 8003, "SLA_", "sla"),
    ("metrics-api", "metrics_api", 8004, "METRICS_", "metrics"),
]
SERVICE_STOP_SECONDS = 25.0  # a service's graceful shutdown takes up to 20 s


class StartFailed(Exception):
    """A part of the system did not come up."""


@dataclass(frozen=True)
class Settings:
    """What `make run` reads from the environment, checked before anything starts."""

    var: Path
    database_url: str | None
    kafka_bootstrap_servers: str | None
    broker_port: int
    topic_partitions: int
    keys_file: Path
    admin_key: str | None
    host: str
    ports: dict[str, int]

    @classmethod
    def read(cls, env: Mapping[str, str]) -> Settings:
        """The settings in `env`; ValueError, in a line, for one that cannot be used."""
        var = Path(env.get("VAR_DIR", ROOT / "var")).resolve()
        admin_key = env.get("DEV_API_KEY") or None
        if admin_key is not None and not is_key_shaped(admin_key):
            raise ValueError(
                f"DEV_API_KEY must look like {KEY_PREFIX}_<id>_<secret> (as `contactctl keys "
                "issue` prints one); unset it to use the key kept in var/dev-admin-key"
            )
        return cls(
            var=var,
            database_url=env.get("DATABASE_URL") or None,
            kafka_bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS") or None,
            broker_port=_number(env, "DEV_BROKER_PORT", 9092),
            topic_partitions=_number(env, "TOPIC_PARTITIONS", 6),
            keys_file=Path(env.get("API_KEYS_FILE", var / "api-keys.json")),
            admin_key=admin_key,
            host=env.get("HOST", "127.0.0.1"),
            ports={
                name: _number(env, f"{prefix}PORT", port)
                for name, _module, port, prefix, _schema in SERVICES
            },
        )

    def service_database_url(self, name: str) -> str:
        """The shared DATABASE_URL (one schema per service), or this service's SQLite file."""
        return self.database_url or f"sqlite+aiosqlite:///{self.var}/{name}.db"


def _number(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {value!r}") from None


def dev_admin_key(var: Path, name: str = "dev-admin-key") -> str:
    """The local admin key (or another local key), kept in var/ so every `make run` uses the
    same one."""
    path = var / name
    if path.exists():
        return path.read_text().strip()
    token = new_token()
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


def local_urls(settings: Settings, sla_key: str) -> dict[str, str]:
    """What metrics-api's worklist page needs locally: sla-monitor's URL and an sla:read key,
    and the contact services' URLs its references link to (a developer's own values win)."""
    local = "http://127.0.0.1:{}".format
    return {
        "METRICS_SLA_MONITOR_URL": local(settings.ports["sla-monitor"]),
        "METRICS_SLA_MONITOR_API_KEY": sla_key,
        "METRICS_ENQUIRY_API_URL": local(settings.ports["enquiry-api"]),
        "METRICS_COMPLAINTS_API_URL": local(settings.ports["complaints-api"]),
    }


def wait_healthy(name: str, url: str, process: Popen[bytes], log: Path, timeout: float) -> None:
    """Waits until `url` answers 200; StartFailed if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StartFailed(f"{name} exited with status {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise StartFailed(f"{name} did not answer {url} within {timeout:.0f} s; see {log}")


def serve(settings: Settings, stops: contextlib.ExitStack) -> int:
    """Starts the system, registering each part's stop on `stops` as it starts; runs until a
    service exits (1) or the run is interrupted (KeyboardInterrupt)."""
    var = settings.var
    var.mkdir(parents=True, exist_ok=True)
    bootstrap = settings.kafka_bootstrap_servers
    if bootstrap is None:
        broker = DevBroker(port=settings.broker_port, log_path=var / "broker.log")
        stops.callback(broker.stop)
        try:
            broker.start()
        except (OSError, RuntimeError) as error:
            raise StartFailed(f"the broker did not start ({error}); see {var}/broker.log") from None
        bootstrap = broker.bootstrap_servers
        print(f"broker          tansu on {bootstrap} (log: {var}/broker.log)")
    asyncio.run(ensure_topics(bootstrap, partitions=settings.topic_partitions))

    for name, _module, _port, _prefix, _schema in SERVICES:
        asyncio.run(upgrade(ROOT / "services" / name, settings.service_database_url(name)))

    admin_key = settings.admin_key or dev_admin_key(var)
    issue_key(settings.keys_file, name="dev-admin", scopes=["admin"], token=admin_key)
    # metrics-api reads sla-monitor's worklist with a key of its own, read-only.
    sla_key = dev_admin_key(var, name="dev-metrics-sla-key")
    issue_key(settings.keys_file, name="metrics-api-worklist", scopes=["sla:read"], token=sla_key)
    started: list[tuple[str, int, Popen[bytes]]] = []
    stops.callback(
        lambda: stop_groups([process for *_, process in started], timeout=SERVICE_STOP_SECONDS)
    )
    for name, module, _port, prefix, _schema in SERVICES:
        port = settings.ports[name]
        env = {
            **(local_urls(settings, sla_key) if name == "metrics-api" else {}),
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "API_KEYS_FILE": str(settings.keys_file),
            f"{prefix}DATABASE_URL": settings.service_database_url(name),
            f"{prefix}PORT": str(port),
        }
        command = [sys.executable, "-m", "uvicorn", f"{module}.main:create_app", "--factory"]
        command += ["--host", settings.host, "--port", str(port), "--no-access-log"]
        process = start_group(command, env=env, log_path=var / f"{name}.log")
        started.append((name, port, process))
    for name, port, process in started:
        url = f"http://127.0.0.1:{port}/healthz"
        wait_healthy(name, url, process, var / f"{name}.log", timeout=60)
        print(f"{name:<15} http://127.0.0.1:{port}/docs   (log: {var}/{name}.log)")
    print(f"dashboard       http://127.0.0.1:{settings.ports['metrics-api']}/dashboard")
    print(f"worklist        http://127.0.0.1:{settings.ports['metrics-api']}/dashboard/worklist")
    print(f"admin API key   {admin_key}")
    print("Ctrl-C stops everything.", flush=True)
    while all(process.poll() is None for _name, _port, process in started):
        time.sleep(0.5)
    ended = next(name for name, _port, process in started if process.poll() is not None)
    print(f"{ended} stopped; see its log, {var}/{ended}.log", file=sys.stderr)
    return 1


def _interrupt(signum: int, _frame: object) -> NoReturn:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main() -> int:
    try:
        settings = Settings.read(os.environ)
    except ValueError as error:
        print(f"make run: {error}", file=sys.stderr)
        return 2
    # SIGTERM and a closed terminal end the run as Ctrl-C does, through the stops below.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    stops = contextlib.ExitStack()
    try:
        return serve(settings, stops)
    except KeyboardInterrupt:
        return 0
    except StartFailed as error:
        print(f"make run: {error}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not cut the stopping short and leave a process behind.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        stops.close()
        print("stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
