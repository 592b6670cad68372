"""A test session kept to itself: a pytest plugin, registered by the root conftest.py.

The developer's settings stay out. The variables the services, `make run` and contactctl read
(DEV_API_KEY, DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, API_KEYS_FILE, RATE_LIMIT, ... and all
that start ENQUIRY_, COMPLAINTS_, SLA_ or METRICS_: ports, policy, office hours; and
OpenTelemetry's OTEL_*, which would send a test's spans to the developer's collector) leave
this process's environment before any test module is imported, so neither the settings a test
builds in-process nor a process it starts can see them. The suite's own knobs are TEST_*.
Nor is a `.env` in the repository's root read by settings built there (make run's, if the
developer keeps one).

No process outlives the session. On Linux the session becomes a child subreaper, so a process
whose parent exits (a broker left by a script that died) is adopted by the session rather than
by init, and stays within sight. After each test the session's descendants are noted with the
test during which they appeared; at the end, once every fixture is torn down, any still running
is reported, killed with its own descendants, and the run fails.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import sys
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from contact_common.settings import COUNCIL_VARIABLES, SHARED_VARIABLES, ServiceSettings

SERVICE_PREFIXES = ("ENQUIRY_", "COMPLAINTS_", "SLA_", "METRICS_")
# OpenTelemetry's own variables, read by its SDK and exporter (OTEL_EXPORTER_OTLP_HEADERS, ...).
OTEL_PREFIX = "OTEL_"
# Read by scripts/run_local.py and contactctl, beside the services' shared variables.
LOCAL_RUN_VARIABLES = ("DEV_API_KEY", "DEV_BROKER_PORT", "VAR_DIR", "HOST")
SETTINGS = frozenset(name.upper() for name in (*SHARED_VARIABLES, *COUNCIL_VARIABLES)) | set(
    LOCAL_RUN_VARIABLES
)
GRACE_SECONDS = 5.0  # for a process told to stop by a teardown that did not wait for it
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h

SCRUBBED = pytest.StashKey[list[str]]()
GUARD = pytest.StashKey["ProcessGuard"]()


def is_platform_setting(name: str) -> bool:
    """True for a variable that configures the platform (a service, `make run`, contactctl)."""
    return name in SETTINGS or name.startswith((*SERVICE_PREFIXES, OTEL_PREFIX))


def scrub(env: MutableMapping[str, str]) -> list[str]:
    """Removes the platform's settings from `env`; returns their names."""
    names = sorted(name for name in env if is_platform_setting(name))
    for name in names:
        del env[name]
    return names


def ignore_dotenv_in(directory: Path) -> Callable[[], None]:
    """Makes settings built while the working directory is `directory` read no `.env`; returns
    the undoing. A test of `.env` files works in a directory of its own, where they are read."""
    build = ServiceSettings.__init__

    @functools.wraps(build)
    def __init__(self: ServiceSettings, **values: Any) -> None:
        if Path.cwd() == directory:
            values.setdefault("_env_file", None)
        build(self, **values)

    # Patched for a test's duration, undone by the returned callable; mypy rightly objects to
    # assigning a method, and pydantic-settings' keyword-only signature is not **values.
    ServiceSettings.__init__ = __init__  # type: ignore[method-assign, assignment]
    return lambda: setattr(ServiceSettings, "__init__", build)


def become_subreaper() -> bool:
    """Makes this process adopt its orphaned descendants (Linux); False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    status: int = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    return status == 0


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@dataclass
class ProcessGuard:
    """The session's descendant processes: those there at the start, and when others appeared."""

    me: psutil.Process = field(default_factory=psutil.Process)
    before: set[tuple[int, float]] = field(default_factory=set)
    seen: dict[tuple[int, float], str] = field(default_factory=dict)

    def start(self) -> ProcessGuard:
        """Notes what runs already (none of it is the session's to answer for)."""
        self.before = {self._key(p) for p in self._descendants()}
        return self

    def note(self, during: str) -> None:
        """Notes the descendants that appeared since the last note, as appeared `during`."""
        for process in self._descendants():
            self.seen.setdefault(self._key(process), during)

    def left(self) -> list[psutil.Process]:
        """The session's descendants that still run, after a grace period for those stopping."""
        candidates = [p for p in self._descendants() if self._key(p) not in self.before]
        _, alive = psutil.wait_procs(candidates, timeout=GRACE_SECONDS)
        return [p for p in alive if _alive(p)]

    def describe(self, process: psutil.Process) -> str:
        """A line for the report: the process, its command, and when it appeared."""
        with contextlib.suppress(psutil.Error):
            command = " ".join(process.cmdline())[:200] or process.name()
            during = self.seen.get(self._key(process), "the end of the session")
            return f"pid {process.pid}: {command}  (appeared during {during})"
        return f"pid {process.pid}"

    def reap(self) -> None:
        """Collects the exit status of adopted children that have exited, so none is a zombie."""
        for child in self.me.children():
            with contextlib.suppress(psutil.Error, ChildProcessError):
                if child.status() == psutil.STATUS_ZOMBIE:
                    os.waitpid(child.pid, os.WNOHANG)

    def _descendants(self) -> list[psutil.Process]:
        # Only this user's: a system service a test restarted (PostgreSQL, by pg_ctlcluster)
        # runs as its own user, is adopted here by the subreaper, and is the system's, not ours.
        found = []
        for process in self.me.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if process.uids().real == os.getuid() and _alive(process):
                    found.append(process)
        return found

    @staticmethod
    def _key(process: psutil.Process) -> tuple[int, float]:
        try:
            return process.pid, process.create_time()
        except psutil.Error:
            return process.pid, 0.0


def kill_tree(process: psutil.Process) -> None:
    """SIGKILL for the process and everything it started."""
    with contextlib.suppress(psutil.Error):
        family = [process, *process.children(recursive=True)]
        for member in family:
            with contextlib.suppress(psutil.Error):
                member.kill()
        psutil.wait_procs(family, timeout=5)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.stash[SCRUBBED] = scrub(os.environ)
    config.add_cleanup(ignore_dotenv_in(config.rootpath))


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = []
    scrubbed = config.stash.get(SCRUBBED, [])
    if scrubbed:
        lines.append("left out of the tests' environment: " + ", ".join(scrubbed))
    if (config.rootpath / ".env").exists():
        lines.append(f"not read by the tests: {config.rootpath / '.env'}")
    return lines


def pytest_sessionstart(session: pytest.Session) -> None:
    become_subreaper()
    session.config.stash[GUARD] = ProcessGuard().start()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> object:
    try:
        return (yield)
    finally:
        guard = item.config.stash.get(GUARD, None)
        if guard is not None:
            guard.note(item.nodeid)


@pytest.hookimpl(trylast=True)  # after the runner's, which tears down the last fixtures
def pytest_sessionfinish(session: pytest.Session) -> None:
    guard = session.config.stash.get(GUARD, None)
    if guard is None:
        return
    left = guard.left()
    if left:
        lines = [guard.describe(process) for process in left]
        for process in left:
            kill_tree(process)
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_sep("!", "processes the session started and left running", red=True)
            for line in lines:
                reporter.write_line(line)
            reporter.write_line("killed; a fixture that starts a process must stop it")
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    guard.reap()
