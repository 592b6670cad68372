"""`make run`'s script on a clean directory: broker, migrations, four services healthy within a
minute, an admin key printed, and Ctrl-C stopping everything cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from contact_common.auth import KeyStore
from contact_devtools.broker import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PREFIXES = {
    "enquiry-api": "ENQUIRY_",
    "complaints-api": "COMPLAINTS_",
    "sla-monitor": "SLA_",
    "metrics-api": "METRICS_",
}


def test_make_run_brings_up_every_service_and_stops_cleanly(tmp_path: Path) -> None:
    ports = {name: free_port() for name in PREFIXES}
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "API_KEYS_FILE")
    }
    env.update({f"{PREFIXES[name]}PORT": str(port) for name, port in ports.items()})
    env.update(
        {
            "VAR_DIR": str(tmp_path / "var"),
            "DEV_BROKER_PORT": str(free_port()),
            "PYTHONUNBUFFERED": "1",
        }
    )
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "run_local.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if "Ctrl-C stops everything" in line:
                break
        up_after = time.monotonic() - started
        text = "".join(output)
        assert "Ctrl-C stops everything" in text, text
        assert up_after < 60, f"took {up_after:.1f}s to come up"
        for name, port in ports.items():
            assert f"http://127.0.0.1:{port}/docs" in text
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            assert health.json()["service"] == name
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            assert ready.status_code == 200, ready.text
        admin_key = next(line.split()[-1] for line in output if line.startswith("admin API key"))
        principal = KeyStore(tmp_path / "var" / "api-keys.json").verify(admin_key)
        assert principal is not None and principal.allows("metrics:read")
        assert sorted(p.name for p in (tmp_path / "var").glob("*.db")) == [
            f"{name}.db" for name in sorted(PREFIXES)
        ]
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert "stopped." in rest
    for port in ports.values():
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
