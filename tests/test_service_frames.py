"""Every service answers as the platform promises: health, readiness, metrics, OpenAPI, docs."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from complaints_api.config import Settings as ComplaintsSettings
from complaints_api.main import create_app as complaints_app
from contact_devtools.testing import running_service
from enquiry_api.config import Settings as EnquirySettings
from enquiry_api.main import create_app as enquiry_app
from metrics_api.config import Settings as MetricsSettings
from metrics_api.main import create_app as metrics_app
from sla_monitor.config import Settings as SlaSettings
from sla_monitor.main import create_app as sla_app

SERVICES = {
    "enquiry-api": (enquiry_app, EnquirySettings),
    "complaints-api": (complaints_app, ComplaintsSettings),
    "sla-monitor": (sla_app, SlaSettings),
    "metrics-api": (metrics_app, MetricsSettings),
}


@pytest.mark.parametrize("service", SERVICES)
async def test_service_frame(
    service: str, database_url: str, kafka_bootstrap: str, api_keys_file: Path
) -> None:
    create_app, settings_class = SERVICES[service]
    async with (
        running_service(
            create_app,
            settings_class,
            service=service,
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            api_keys_file=api_keys_file,
        ) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        health = await client.get("/healthz")
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "service": service}

        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}

        openapi = (await client.get("/openapi.json")).json()
        assert openapi["info"]["title"].startswith("Council contact platform")
        assert "/healthz" in openapi["paths"]
        assert (await client.get("/docs")).status_code == 200

        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert "http_requests_total" in metrics.text

        missing = await client.get("/v1/no-such-thing")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
