"""`make run`'s script on a clean directory: broker, migrations, four services healthy within a
minute, an admin key printed, and Ctrl-C stopping everything cleanly; settings it cannot use
refused in a line before anything starts, and a part that fails to start taking the rest down.

The script gets only what these tests give it (contact_devtools.processes.minimal_env), never
the developer's own DEV_API_KEY, DATABASE_URL or ports, and runs outside the repository so no
`.env` of theirs is read.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from contact_common.auth import KeyStore
from contact_devtools.broker import free_port
from contact_devtools.processes import interrupt, minimal_env

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "run_local.py"
PREFIXES = {
    "enquiry-api": "ENQUIRY_",
    "complaints-api": "COMPLAINTS_",
    "sla-monitor": "SLA_",
    "metrics-api": "METRICS_",
}


def run_env(tmp_path: Path, ports: dict[str, int], **settings: str) -> dict[str, str]:
    """The environment of one run: its own var/, broker port and service ports."""
    return minimal_env(
        **{f"{PREFIXES[name]}PORT": str(port) for name, port in ports.items()},
        VAR_DIR=str(tmp_path / "var"),
        DEV_BROKER_PORT=str(free_port()),
        PYTHONUNBUFFERED="1",
        **settings,
    )


def run_to_the_end(
    tmp_path: Path, env: dict[str, str], *, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Runs the script in tmp_path until it exits by itself."""
    return subprocess.run(
        [sys.executable, str(SCRIPT)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def running_with(*words: str) -> list[str]:
    """The command lines of running processes that contain any of `words`."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if any(word in command for word in words):
            found.append(command)
    return found


def listening(port: int) -> bool:
    """True if something accepts connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_make_run_brings_up_every_service_and_stops_cleanly(tmp_path: Path) -> None:
    ports = {name: free_port() for name in PREFIXES}
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT)],
        cwd=tmp_path,
        env=run_env(tmp_path, ports),
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
        # The worklist page: metrics-api reads sla-monitor's worklist with run_local's key.
        worklist = httpx.get(
            f"http://127.0.0.1:{ports['metrics-api']}/dashboard/worklist", timeout=10
        )
        assert worklist.status_code == 200, worklist.text
        assert "0 open commitments" in worklist.text
        assert sorted(p.name for p in (tmp_path / "var").glob("*.db")) == [
            f"{name}.db" for name in sorted(PREFIXES)
        ]
    finally:
        rest = interrupt(process, timeout=60)
    assert process.returncode == 0, rest
    assert "stopped." in rest
    for port in ports.values():
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def test_a_malformed_dev_api_key_is_refused_in_a_line_and_nothing_starts(tmp_path: Path) -> None:
    env = run_env(tmp_path, {name: free_port() for name in PREFIXES}, DEV_API_KEY="not-a-key")
    result = run_to_the_end(tmp_path, env, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("make run: DEV_API_KEY must look like cc_<id>_<secret>")
    assert result.stdout == ""  # no broker, no service was started
    assert not listening(int(env["DEV_BROKER_PORT"]))
    assert not (tmp_path / "var").exists()


def test_a_service_that_cannot_start_takes_down_what_was_started(tmp_path: Path) -> None:
    ports = {name: free_port() for name in PREFIXES}
    with socket.socket() as taken:  # enquiry-api's port is someone else's
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports["enquiry-api"] = taken.getsockname()[1]
        env = run_env(tmp_path, ports)
        result = run_to_the_end(tmp_path, env, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "make run: enquiry-api exited" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "broker          tansu on" in result.stdout
    assert result.stdout.rstrip().endswith("stopped.")
    broker_port = env["DEV_BROKER_PORT"]
    assert not listening(int(broker_port))
    # The broker and the three services that did start: their ports name them.
    assert not running_with(
        f"tcp://127.0.0.1:{broker_port}", *(f"--port {ports[name]} " for name in ports)
    )
