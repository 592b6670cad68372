"""Processes the tools start: each leads a process group of its own, is stopped with its whole
group, and gets a minimal environment rather than the developer's.

A group of its own means a terminal's Ctrl-C reaches only the process that started it, which
then stops what it started in order (services before the broker they write to); stopping the
group rather than the one process also stops anything the process itself started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# What any program needs from its environment: where programs are, whose it is, the locale.
BASICS = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "SYSTEMROOT")


def minimal_env(**settings: str) -> dict[str, str]:
    """This environment's basics (PATH, HOME, locale) and `settings`; nothing else of it."""
    env = {name: os.environ[name] for name in BASICS if name in os.environ}
    env.update(settings)
    return env


def start_group(
    args: Sequence[str],
    *,
    env: dict[str, str],
    log_path: Path | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Starts `args` as the leader of a new session, its output appended to `log_path`."""
    output = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        return subprocess.Popen(
            list(args),
            env=env,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        if not isinstance(output, int):  # DEVNULL when there is no log_path
            output.close()  # the child has its own


def signal_group(process: subprocess.Popen[Any], signum: int) -> None:
    """Sends `signum` to every process of the group `process` leads, if any is left."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def stop_group(
    process: subprocess.Popen[bytes], *, timeout: float = 10.0, kill: bool = False
) -> int:
    """SIGTERM (SIGKILL with `kill`) to the group, SIGKILL if it has not exited within `timeout`
    seconds; whatever of the group outlives its leader is killed too. Returns the exit status."""
    stop_groups([process], timeout=timeout, kill=kill)
    return process.returncode


def stop_groups(
    processes: Sequence[subprocess.Popen[bytes]], *, timeout: float = 10.0, kill: bool = False
) -> None:
    """`stop_group` for several at once: all are signalled, then all are given `timeout`."""
    for process in processes:
        if process.poll() is None:
            signal_group(process, signal.SIGKILL if kill else signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            signal_group(process, signal.SIGKILL)
            process.wait(timeout=timeout)
        signal_group(process, signal.SIGKILL)


def interrupt(process: subprocess.Popen[str], *, timeout: float) -> str:
    """Ctrl-C for `process` (SIGINT) and the rest of its output once it has exited; if it takes
    over `timeout` seconds, SIGKILL for its group and TimeoutError."""
    process.send_signal(signal.SIGINT)
    try:
        rest, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        signal_group(process, signal.SIGKILL)
        process.communicate()
        raise TimeoutError(f"{process.args!r} still ran {timeout} s after SIGINT") from None
    return rest
