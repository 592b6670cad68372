"""The deployment files are checked without a cluster or a Docker engine: the compose file by the
compose client, the Dockerfile by hadolint, the Kubernetes manifests against their schemas."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent


def _compose_command() -> list[str]:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    assert legacy, "no compose client: `make test` installs Debian's docker-compose"
    return [legacy]


def test_compose_file_is_valid_and_complete() -> None:
    result = subprocess.run(
        [*_compose_command(), "-f", str(DEPLOY / "docker-compose.yml"), "config"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    for name in ("kafka", "postgres", "migrate", "enquiry-api", "complaints-api", "sla-monitor",
                 "metrics-api", "prometheus", "grafana"):
        assert name in services, f"{name} missing from the compose file"
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for name in ("enquiry-api", "complaints-api", "sla-monitor", "metrics-api"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = scrape["scrape_configs"][0]["static_configs"][0]["targets"]
    assert sorted(targets) == sorted(
        ["enquiry-api:8001", "complaints-api:8002", "sla-monitor:8003", "metrics-api:8004"]
    )


def test_dockerfile_passes_hadolint() -> None:
    hadolint = BIN / "hadolint"
    result = subprocess.run(
        [str(hadolint), "--failure-threshold", "warning", str(ROOT / "Dockerfile")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
