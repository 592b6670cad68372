"""Per-key rate limits (issue 7): 429 problem+json with Retry-After, per key, over real HTTP.

enquiry-api runs on a real port with PostgreSQL and the real broker, with a small RATE_LIMIT so
the windows fill in a few requests; keys get their own limits through the key file as
`contactctl keys issue --rate-limit` writes them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from complaints_api.config import Settings as ComplaintsSettings
from complaints_api.main import create_app as complaints_app
from contact_common.auth import issue_key
from contact_common.errors import PROBLEM_JSON
from contact_common.ratelimit import parse_limit
from contact_devtools.testing import running_service
from enquiry_api.config import Settings as EnquirySettings
from enquiry_api.main import create_app as enquiry_app
from metrics_api.config import Settings as MetricsSettings
from metrics_api.main import create_app as metrics_app
from sla_monitor.config import Settings as SlaSettings
from sla_monitor.main import create_app as sla_app

# Long enough that the requests of one burst fall in one window on a slow machine, short enough
# that waiting out a Retry-After costs the suite a few seconds.
SERVICE_LIMIT = "3 per 4 seconds"
WINDOW_SECONDS = 4


async def start_of_a_window() -> None:
    """Waits for a window to begin (they are aligned to multiples of their length, from the epoch).

    The sliding window counter weighs the previous window by how much of it is still covered, so
    a burst that straddled two would be counted as a little less than it is.
    """
    await asyncio.sleep(WINDOW_SECONDS - time.time() % WINDOW_SECONDS + 0.02)


SERVICES: dict[str, tuple[Callable[..., FastAPI], type[Any]]] = {
    "enquiry-api": (enquiry_app, EnquirySettings),
    "complaints-api": (complaints_app, ComplaintsSettings),
    "sla-monitor": (sla_app, SlaSettings),
    "metrics-api": (metrics_app, MetricsSettings),
}


def _key_id(token: str) -> str:
    return token.split("_")[1]


async def _list(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/v1/enquiries", headers={"Authorization": f"Bearer {token}"})


async def test_a_key_over_its_limit_gets_429_until_its_window_moves_on(
    database_url: str, kafka_bootstrap: str, api_keys_file: Path
) -> None:
    def issue(name: str, rate_limit: str | None = None) -> str:
        return issue_key(api_keys_file, name=name, scopes=["enquiries:read"], rate_limit=rate_limit)

    busy, neighbour = issue("busy"), issue("neighbour")
    bulk = issue("bulk-export", rate_limit="0")  # its own limit: none
    trickle = issue("trickle", rate_limit="1 per 4 seconds")
    async with (
        running_service(
            enquiry_app,
            EnquirySettings,
            service="enquiry-api",
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            api_keys_file=api_keys_file,
            rate_limit=SERVICE_LIMIT,
        ) as server,
        httpx.AsyncClient(base_url=server.url, timeout=30) as client,
    ):
        # Wrong secrets under busy's id are refused before counting: nobody can spend its budget.
        for _ in range(5):
            forged = await _list(client, f"cc_{_key_id(busy)}_not-the-secret")
            assert forged.status_code == 401, forged.text

        await start_of_a_window()
        for _ in range(3):
            assert (await _list(client, busy)).status_code == 200
        throttled = await _list(client, busy)
        assert throttled.status_code == 429, throttled.text
        assert throttled.headers["content-type"] == PROBLEM_JSON
        problem = throttled.json()
        assert problem["status"] == 429
        assert problem["type"].endswith("/rate-limited")
        assert "3 requests per 4 seconds" in problem["detail"]
        retry_after = int(throttled.headers["retry-after"])
        assert 1 <= retry_after <= WINDOW_SECONDS

        # A key's own limit replaces the service's, downwards as well.
        assert (await _list(client, trickle)).status_code == 200
        assert (await _list(client, trickle)).status_code == 429
        # Another key, a key with no limit of its own, and the probes are not affected.
        for _ in range(3):
            assert (await _list(client, neighbour)).status_code == 200
        for _ in range(10):
            assert (await _list(client, bulk)).status_code == 200
        assert (await client.get("/healthz")).status_code == 200

        # Once the window has moved on the key works again, as Retry-After said.
        await asyncio.sleep(retry_after)
        again = await _list(client, busy)
        assert again.status_code == 200, again.text

        # The 429 is in the document clients read, with its header.
        document = (await client.get("/openapi.json")).json()
        listed = document["paths"]["/v1/enquiries"]["get"]["responses"]["429"]
        assert "Retry-After" in listed["headers"]

        metrics = (await client.get("/metrics")).text
        assert (
            f'http_requests_throttled_total{{key_id="{_key_id(busy)}",service="enquiry-api"}} 1.0'
            in metrics
        )
        assert f'key_id="{_key_id(neighbour)}"' not in metrics


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_that_takes_a_key_documents_the_429(service: str, tmp_path: Path) -> None:
    create_app, settings_class = SERVICES[service]
    document = create_app(
        settings_class(database_url=f"sqlite+aiosqlite:///{tmp_path}/unused.db")
    ).openapi()
    keyed = [
        (method, path, operation["responses"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation.get("security")
    ]
    assert keyed
    for method, path, responses in keyed:
        assert "429" in responses, f"{method.upper()} {path}"
        assert "Retry-After" in responses["429"]["headers"]
        assert PROBLEM_JSON in responses["429"]["content"]
    for path in ("/healthz", "/readyz", "/metrics"):
        assert "429" not in document["paths"][path]["get"]["responses"]


def test_the_limit_is_one_setting_for_every_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT", "50/second")
    monkeypatch.setenv("RATE_LIMIT_STORAGE_URI", "memory://")
    assert EnquirySettings().rate_limit == ComplaintsSettings().rate_limit == "50/second"
    monkeypatch.setenv("SLA_RATE_LIMIT", "0")
    assert SlaSettings().rate_limit == "0"  # the prefixed variable wins
    assert parse_limit("0") is None and parse_limit("") is None
    monkeypatch.setenv("RATE_LIMIT", "fifty a second")
    with pytest.raises(ValueError, match="not a rate limit"):
        MetricsSettings()
