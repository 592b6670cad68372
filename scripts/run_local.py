"""`make run`: the whole system on one machine, on its embedded default.

Starts the bundled broker (unless KAFKA_BOOTSTRAP_SERVERS points at one), applies every
service's migrations (SQLite under var/ unless DATABASE_URL is set), makes sure there is an
admin API key (DEV_API_KEY if set), starts the four services, waits until each answers
/healthz and prints where they are. Ctrl-C stops everything, services first, broker last.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from contact_common.auth import issue_key, new_token
from contact_common.bus.kafka import ensure_topics
from contact_common.migrations import upgrade
from contact_devtools.broker import DevBroker

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("VAR_DIR", ROOT / "var")).resolve()

SERVICES = [
    # (name, module, port, env prefix, schema)
    ("enquiry-api", "enquiry_api", 8001, "ENQUIRY_", "enquiry"),
    ("complaints-api", "complaints_api", 8002, "COMPLAINTS_", "complaints"),
    ("sla-monitor", "sla_monitor", 8003, "SLA_", "sla"),
    ("metrics-api", "metrics_api", 8004, "METRICS_", "metrics"),
]


def database_url(name: str) -> str:
    """The shared DATABASE_URL (one schema per service), or this service's SQLite file."""
    return os.environ.get("DATABASE_URL") or f"sqlite+aiosqlite:///{VAR}/{name}.db"


def service_port(prefix: str, default: int) -> int:
    """The port a service listens on: `<PREFIX>PORT` or its default."""
    return int(os.environ.get(f"{prefix}PORT", default))


def dev_admin_key() -> str:
    """The local admin key, kept in var/ so every `make run` prints the same one."""
    path = VAR / "dev-admin-key"
    if path.exists():
        return path.read_text().strip()
    token = new_token()
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


def wait_healthy(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def main() -> int:
    VAR.mkdir(exist_ok=True)
    broker: DevBroker | None = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        port = int(os.environ.get("DEV_BROKER_PORT", "9092"))
        broker = DevBroker(port=port, log_path=VAR / "broker.log").start()
        bootstrap = broker.bootstrap_servers
        print(f"broker          tansu on {bootstrap} (log: {VAR}/broker.log)")
    asyncio.run(ensure_topics(bootstrap, partitions=int(os.environ.get("TOPIC_PARTITIONS", "6"))))

    for name, _module, _port, _prefix, _schema in SERVICES:
        asyncio.run(upgrade(ROOT / "services" / name, database_url(name)))

    keys_file = Path(os.environ.get("API_KEYS_FILE", VAR / "api-keys.json"))
    admin_key = os.environ.get("DEV_API_KEY") or dev_admin_key()
    issue_key(keys_file, name="dev-admin", scopes=["admin"], token=admin_key)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name, module, default_port, prefix, _schema in SERVICES:
            port = service_port(prefix, default_port)
            env = {
                **os.environ,
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "API_KEYS_FILE": str(keys_file),
                f"{prefix}DATABASE_URL": database_url(name),
                f"{prefix}PORT": str(port),
            }
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        f"{module}.main:create_app",
                        "--factory",
                        "--host",
                        os.environ.get("HOST", "127.0.0.1"),
                        "--port",
                        str(port),
                        "--no-access-log",
                    ],
                    env=env,
                    stderr=open(VAR / f"{name}.log", "ab"),  # noqa: SIM115
                )
            )
        for name, _module, default_port, prefix, _schema in SERVICES:
            port = service_port(prefix, default_port)
            wait_healthy(f"http://127.0.0.1:{port}/healthz")
            print(f"{name:<15} http://127.0.0.1:{port}/docs   (log: {VAR}/{name}.log)")
        print(f"dashboard       http://127.0.0.1:{service_port('METRICS_', 8004)}/dashboard")
        print(f"admin API key   {admin_key}")
        print("Ctrl-C stops everything.")
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        print(f"a service stopped; see its log under {VAR}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=25)
            except subprocess.TimeoutExpired:
                process.kill()
        if broker is not None:
            broker.stop()
        print("stopped.")


if __name__ == "__main__":
    sys.exit(main())
