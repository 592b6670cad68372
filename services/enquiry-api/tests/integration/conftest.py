"""Fixtures of enquiry-api's integration tests: the service on a real port, keys, clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from contact_devtools.testing import LiveServer, running_service
from enquiry_api.config import Settings
from enquiry_api.main import create_app


@pytest.fixture
async def enquiry_api(
    database_url: str, kafka_bootstrap: str, api_keys_file: Path
) -> AsyncIterator[LiveServer]:
    """enquiry-api on a real port, on this test's database and the real broker."""
    async with running_service(
        create_app,
        Settings,
        service="enquiry-api",
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        api_keys_file=api_keys_file,
    ) as server:
        yield server


@pytest.fixture
def client_for(
    enquiry_api: LiveServer, issue_api_key: Callable[..., str]
) -> Callable[..., httpx.AsyncClient]:
    """`client_for("enquiries:write", name="web")`: a client holding a new key with those scopes."""

    def make(*scopes: str, name: str = "test") -> httpx.AsyncClient:
        token = issue_api_key(*scopes, name=name)
        return httpx.AsyncClient(
            base_url=enquiry_api.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    return make


@pytest.fixture
async def admin(client_for: Callable[..., httpx.AsyncClient]) -> AsyncIterator[httpx.AsyncClient]:
    """A client with the admin key."""
    async with client_for("admin", name="contact-centre") as client:
        yield client


def enquiry_body(**overrides: object) -> dict[str, object]:
    """A valid POST /v1/enquiries body."""
    body: dict[str, object] = {
        "channel": "email",
        "service_area": "waste",
        "received_at": "2026-03-02T10:00:00+00:00",
        "description": "My bin was not collected on Monday.",
        "customer": {
            "name": "Ada Lovelace",
            "email": "ada.lovelace@example.org",
            "phone": "07700 900123",
            "address": "12 Analytical Row, Marlow",
            "uprn": "100023336956",
        },
    }
    body.update(overrides)
    return body


@pytest.fixture
def new_enquiry(admin: httpx.AsyncClient) -> Callable[..., Awaitable[dict[str, object]]]:
    """Creates an enquiry through the API; `await new_enquiry(channel="letter")`."""

    async def create(**overrides: object) -> dict[str, object]:
        response = await admin.post("/v1/enquiries", json=enquiry_body(**overrides))
        assert response.status_code == 201, response.text
        return response.json()

    return create


@pytest.fixture
def body_of() -> Callable[..., dict[str, object]]:
    """`body_of(channel="letter")`: a valid enquiry body with some fields changed."""
    return enquiry_body
