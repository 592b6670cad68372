"""Tests for the frame every service shares, over real HTTP: health, readiness, metrics, and
errors as RFC 9457 problem documents (validation, unknown paths, large bodies, conflicts, bugs)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from contact_common.errors import PROBLEM_JSON, ProblemError
from contact_common.service import ServiceRuntime, create_app
from contact_common.settings import ServiceSettings
from contact_devtools.broker import free_port
from contact_devtools.testing import LiveServer

MAX_BODY_BYTES = 1024


class FrameTestSettings(ServiceSettings):
    """A service of this test's own."""

    model_config = SettingsConfigDict(env_prefix="TESTFRAME_", env_file=None, extra="ignore")

    service_name: ClassVar[str] = "frame-test"
    database_schema: ClassVar[str] = "frame_test"


class Score(BaseModel):
    score: int = Field(ge=1, le=5)
    comment: str = ""


def _router() -> APIRouter:
    router = APIRouter()

    @router.post("/scores")
    async def record_score(score: Score) -> dict[str, int]:
        return {"score": score.score}

    @router.post("/uploads")
    async def upload(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    @router.post("/enquiries/{reference}/resolve")
    async def resolve(reference: str) -> None:
        raise ProblemError(
            409, f"Enquiry {reference} is already resolved.", problem="already-resolved"
        )

    @router.get("/broken")
    async def broken() -> None:
        raise RuntimeError("a bug nobody foresaw")

    return router


def _app(settings: FrameTestSettings):  # type: ignore[no-untyped-def]
    return create_app(
        runtime=ServiceRuntime(settings),
        title="frame test",
        description="the shared frame around a few routes",
        routers=[_router()],
    )


def _settings(directory: Path, *, database_url: str, bootstrap: str) -> FrameTestSettings:
    return FrameTestSettings(
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        api_keys_file=directory / "api-keys.json",
        max_body_bytes=MAX_BODY_BYTES,
        log_json=False,
        log_level="CRITICAL",
    )


@pytest.fixture(scope="module")
async def client(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the service, served by uvicorn on a real port."""
    directory = tmp_path_factory.mktemp("frame")
    settings = _settings(
        directory,
        database_url=f"sqlite+aiosqlite:///{directory}/frame.db",
        bootstrap=kafka_bootstrap,
    )
    async with (
        LiveServer(_app(settings)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
    ):
        yield http


def _assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["instance"] == response.request.url.path
    return body


# -- health, readiness, metrics ------------------------------------------------------------------


async def test_healthz_says_the_process_is_alive(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "frame-test"}


async def test_a_started_service_has_frozen_its_start_up_objects(client: httpx.AsyncClient) -> None:
    # The app served by `client` has been through its lifespan's start-up: what it built is in
    # the permanent generation, out of the full collections that paused requests.
    assert (await client.get("/healthz")).status_code == 200
    assert gc.get_freeze_count() > 10_000


async def test_readyz_is_200_with_the_broker_and_database_up(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, database_url=database_url, bootstrap=kafka_bootstrap)
    async with (
        LiveServer(_app(settings)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
    ):
        response = await http.get("/readyz")

    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}


async def test_readyz_is_503_naming_the_broker_when_it_is_away(
    database_url: str, tmp_path: Path
) -> None:
    closed = f"127.0.0.1:{free_port()}"
    settings = _settings(tmp_path, database_url=database_url, bootstrap=closed)
    loop = asyncio.get_running_loop()
    async with (
        LiveServer(_app(settings)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
    ):
        response = await http.get("/readyz")
        stopping = loop.time()

    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"] == "unreachable"
    # Waiting for a broker that is away must not hold up the shutdown.
    assert loop.time() - stopping < 10


async def test_metrics_are_prometheus_text_with_request_counts(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE http_requests_total counter" in response.text
    samples = [
        line
        for line in response.text.splitlines()
        if line.startswith("http_requests_total{") and 'service="frame-test"' in line
    ]
    assert any('route="/healthz"' in s and 'status="200"' in s for s in samples), samples


async def test_metrics_label_routes_by_template_not_raw_path(client: httpx.AsyncClient) -> None:
    await client.post("/enquiries/ENQ-SECRET-123/resolve")

    text = (await client.get("/metrics")).text

    assert 'route="/enquiries/{reference}/resolve"' in text
    assert "ENQ-SECRET-123" not in text


# -- errors as problem documents -----------------------------------------------------------------


async def test_a_valid_body_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/scores", json={"score": 4})

    assert response.status_code == 200
    assert response.json() == {"score": 4}


async def test_a_validation_error_is_422_naming_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/scores", json={"score": 9, "comment": "great"})

    body = _assert_problem(response, 422)
    assert body["type"] == "https://council-contact.example/problems/validation"
    assert [e["field"] for e in body["errors"]] == ["body.score"]
    assert body["errors"][0]["message"]
    assert "body.score" in body["detail"]


async def test_a_body_that_is_not_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/scores", content=b"{not json", headers={"content-type": "application/json"}
    )

    body = _assert_problem(response, 422)
    assert body["errors"]


async def test_an_unknown_path_is_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/thing")

    _assert_problem(response, 404)


async def test_a_wrong_method_is_405_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/scores")

    _assert_problem(response, 405)
    assert "POST" in response.headers["allow"]


@pytest.mark.parametrize("path", ["/scores", "/uploads"])
async def test_a_body_over_the_limit_is_413_by_content_length(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.post(
        path, content=b"x" * (MAX_BODY_BYTES * 4), headers={"content-type": "application/json"}
    )

    body = _assert_problem(response, 413)
    assert str(MAX_BODY_BYTES) in body["detail"]


async def _chunks(total: int, size: int = 256) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        chunk = b" " * min(size, total - sent)
        sent += len(chunk)
        yield chunk


@pytest.mark.parametrize("path", ["/scores", "/uploads"])
async def test_a_body_over_the_limit_is_413_when_chunked(
    client: httpx.AsyncClient, path: str
) -> None:
    # A generator has no length: httpx sends it chunked, with no Content-Length to refuse early.
    response = await client.post(
        path, content=_chunks(MAX_BODY_BYTES * 4), headers={"content-type": "application/json"}
    )

    assert "content-length" not in response.request.headers
    body = _assert_problem(response, 413)
    assert str(MAX_BODY_BYTES) in body["detail"]


async def test_a_chunked_body_under_the_limit_is_read(client: httpx.AsyncClient) -> None:
    response = await client.post("/uploads", content=_chunks(MAX_BODY_BYTES - 24))

    assert response.status_code == 200
    assert response.json() == {"received": MAX_BODY_BYTES - 24}


async def test_a_problem_raised_by_a_route_keeps_its_status_and_detail(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/enquiries/ENQ-42/resolve")

    body = _assert_problem(response, 409)
    assert body["detail"] == "Enquiry ENQ-42 is already resolved."
    assert body["type"] == "https://council-contact.example/problems/already-resolved"
    assert body["title"] == "Conflict"


async def test_an_unexpected_error_is_a_500_problem(client: httpx.AsyncClient) -> None:
    # The safety net: a bug becomes a problem document that gives nothing of the bug away.
    response = await client.get("/broken")

    body = _assert_problem(response, 500)
    assert "nobody foresaw" not in response.text
    assert "RuntimeError" not in response.text
    assert body["detail"]
    assert (await client.get("/healthz")).status_code == 200
