"""contact_devtools.hermetic, seen from outside: a pytest session of its own, in a process of
its own, with the developer's settings in its environment and a `.env` in its root, and tests that
leave processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil

from contact_devtools.processes import minimal_env

DEVELOPERS_SETTINGS = {
    "DEV_API_KEY": "not-a-key",
    "DATABASE_URL": "postgresql+asyncpg://someone@elsewhere/theirs",
    "KAFKA_BOOTSTRAP_SERVERS": "elsewhere:9092",
    "ENQUIRY_PORT": "1",
    "SLA_POLICY": "complaint-handling-code-2024",
    "METRICS_OFFICE_OPENS": "25:00",
    "VAR_DIR": "/nowhere",
}
DEVELOPERS_DOTENV = "ENQUIRY_OFFICE_OPENS=08:00\nDATABASE_URL=sqlite+aiosqlite:///theirs.db\n"
INNER_TESTS = """
import os, subprocess, sys
from pathlib import Path

PIDS = Path(os.environ["PIDS_DIR"])


def test_the_developers_settings_are_left_out():
    present = {name for name in {names} if name in os.environ}
    assert not present
    assert os.environ["TEST_KNOB"] == "kept"  # the suite's own knobs stay


def test_the_dotenv_file_in_the_root_is_not_read():
    from pydantic_settings import SettingsConfigDict

    from contact_common.settings import ServiceSettings

    class Service(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="ENQUIRY_", env_file=".env", extra="ignore")

    settings = Service()
    assert settings.office_opens.hour == 9 and settings.database_url == ""


def test_the_children_see_none_of_them_either():
    script = "import os; print(sorted(n for n in {names} if n in os.environ))"
    seen = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert seen.stdout.strip() == "[]"
"""
LEAKY_TESTS = """

def test_leaves_a_child():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    (PIDS / "child").write_text(str(child.pid))


def test_leaves_an_orphan():
    # The shell exits at once: the sleep's parent is gone, as a broker's was when the script
    # that started it died.
    started = subprocess.run(
        ["sh", "-c", "sleep 120 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True
    )
    (PIDS / "orphan").write_text(started.stdout.strip())
"""


def run_session(tmp_path: Path, tests: str) -> subprocess.CompletedProcess[str]:
    """Runs `tests` in a session of their own with the plugin and the developer's settings."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "conftest.py").write_text('pytest_plugins = ["contact_devtools.hermetic"]\n')
    (project / ".env").write_text(DEVELOPERS_DOTENV)
    (project / "test_inner.py").write_text(tests.replace("{names}", repr(set(DEVELOPERS_SETTINGS))))
    env = minimal_env(**DEVELOPERS_SETTINGS, TEST_KNOB="kept", PIDS_DIR=str(tmp_path))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(project)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def gone(pid: int) -> bool:
    """True if the process has ended (a zombie waiting to be reaped has)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_session_sees_none_of_the_developers_settings(tmp_path: Path) -> None:
    result = run_session(tmp_path, INNER_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
    header = "left out of the tests' environment: " + ", ".join(sorted(DEVELOPERS_SETTINGS))
    assert header in result.stdout, result.stdout
    assert f"not read by the tests: {tmp_path / 'project' / '.env'}" in result.stdout


def test_a_process_left_running_fails_the_session_and_is_killed(tmp_path: Path) -> None:
    result = run_session(tmp_path, INNER_TESTS + LEAKY_TESTS)
    output = result.stdout
    assert "5 passed" in output, output  # every test passed, and yet:
    assert result.returncode == 1, output
    assert "processes the session started and left running" in output, output
    child = int((tmp_path / "child").read_text())
    orphan = int((tmp_path / "orphan").read_text())
    assert f"pid {child}: " in output and "test_inner.py::test_leaves_a_child)" in output
    assert f"pid {orphan}: sleep 120" in output and "test_leaves_an_orphan)" in output
    assert gone(child) and gone(orphan)
