"""The deployment files are checked without a cluster or a Docker engine: the compose file by the
compose client, the Dockerfile by hadolint, the Kubernetes manifests against their schemas."""

from __future__ import annotations

import json
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
    ):
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
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


K8S = DEPLOY / "k8s"


def _documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _json_pointer_replace(document: dict, pointer: str, value: object) -> None:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.strip("/").split("/")]
    target = document
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target[part]
    assert parts[-1] in target or isinstance(target, list), f"{pointer} does not exist"
    target[parts[-1]] = value


def _build(directory: Path) -> list[dict]:
    """A small kustomize: resources, generators (merge), JSON 6902 replace patches, namespace."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    documents: list[dict] = []
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        documents += _build(path) if path.is_dir() else _documents(path)
    for generator_key, kind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
        for generator in kustomization.get(generator_key, []):
            data: dict[str, str] = {}
            for env_file in generator.get("envs", []):
                for line in (directory / env_file).read_text().splitlines():
                    if line.strip() and not line.startswith("#"):
                        key, _, value = line.partition("=")
                        data[key] = value
            for entry in generator.get("files", []):
                key, _, file_name = entry.rpartition("=")
                file_path = directory / file_name
                assert file_path.exists(), f"{directory}: {file_name} is missing"
                data[key or file_path.name] = file_path.read_text()
            for literal in generator.get("literals", []):
                key, _, value = literal.partition("=")
                data[key] = value
            existing = next(
                (
                    d
                    for d in documents
                    if d["kind"] == kind and d["metadata"]["name"] == generator["name"]
                ),
                None,
            )
            if generator.get("behavior") == "merge":
                assert existing is not None, f"merge into a missing {kind} {generator['name']}"
                existing["data"].update(data)
            else:
                documents.append(
                    {
                        "apiVersion": "v1",
                        "kind": kind,
                        "metadata": {"name": generator["name"]},
                        "data": data,
                    }
                )
    for patch in kustomization.get("patches", []):
        target = patch["target"]
        matched = [
            d
            for d in documents
            if d["kind"] == target["kind"]
            and ("name" not in target or d["metadata"]["name"] == target["name"])
        ]
        assert matched, f"patch target {target} matches nothing"
        for operation in yaml.safe_load(patch["patch"]):
            assert operation["op"] == "replace"
            for document in matched:
                _json_pointer_replace(document, operation["path"], operation["value"])
    if "namespace" in kustomization:
        for document in documents:
            if document["kind"] != "Namespace":
                document["metadata"]["namespace"] = kustomization["namespace"]
    return documents


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
    settings = next(d for d in documents if d["metadata"]["name"] == "council-contact-settings")
    partitions = int(settings["data"]["TOPIC_PARTITIONS"])
    sla = next(
        d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == "sla-monitor"
    )
    assert sla["spec"]["replicas"] <= partitions, "sla-monitor replicas beyond the partitions idle"
    for deployment in (d for d in documents if d["kind"] == "Deployment"):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_cluster_configuration_starts_from_the_shipped_defaults() -> None:
    # The ConfigMaps are where a council changes its commitments and targets without a release;
    # out of the box they must say what the services would say on their own.
    import sla_monitor
    from metrics_api.config import Settings as MetricsSettings

    shipped_policy = Path(sla_monitor.__file__).parent / "policies" / "default.yaml"
    assert (K8S / "base" / "policy.yaml").read_text() == shipped_policy.read_text()
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
