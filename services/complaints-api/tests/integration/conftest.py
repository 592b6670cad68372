"""complaints-api on a real port, with PostgreSQL, the real broker and this test's keys."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from complaints_api.config import Settings
from complaints_api.main import create_app
from contact_common.events import CloudEvent
from contact_devtools.testing import EventTap, running_service


@dataclass
class Api:
    """A client of complaints-api holding officer (read and write) and erasure keys."""

    client: httpx.AsyncClient
    writer: dict[str, str]
    eraser: dict[str, str]

    async def create(self, **fields: Any) -> dict[str, Any]:
        """Records a complaint and returns its body (asserting 201)."""
        body = {
            "received_at": (datetime.now(UTC) - timedelta(minutes=30)).isoformat(),
            "channel": "email",
            "service_area": "waste",
            "description": "My bin was missed three weeks running.",
            **fields,
        }
        response = await self.client.post("/v1/complaints", json=body, headers=self.writer)
        assert response.status_code == 201, response.text
        return response.json()

    async def step(self, complaint_id: str, action: str, **body: Any) -> httpx.Response:
        """POSTs one step (acknowledge, respond, ...) with the officer's key."""
        return await self.client.post(
            f"/v1/complaints/{complaint_id}/{action}", json=body, headers=self.writer
        )

    async def ok(self, complaint_id: str, action: str, **body: Any) -> dict[str, Any]:
        """A step that must succeed; returns the complaint."""
        response = await self.step(complaint_id, action, **body)
        assert response.status_code == 200, response.text
        return response.json()

    async def get(self, complaint_id: str) -> dict[str, Any]:
        """The complaint's detail."""
        response = await self.client.get(f"/v1/complaints/{complaint_id}", headers=self.writer)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
async def api(
    database_url: str,
    kafka_bootstrap: str,
    api_keys_file: Path,
    issue_api_key: Callable[..., str],
) -> AsyncIterator[Api]:
    """The service, and a client with an officer's key and an erasure key."""
    writer = issue_api_key("complaints:read", "complaints:write", name="officer-app")
    eraser = issue_api_key("customers:erase", name="dpo")
    async with (
        running_service(
            create_app,
            Settings,
            service="complaints-api",
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            api_keys_file=api_keys_file,
        ) as server,
        httpx.AsyncClient(base_url=server.url, timeout=30) as client,
    ):
        yield Api(
            client=client,
            writer={"Authorization": f"Bearer {writer}"},
            eraser={"Authorization": f"Bearer {eraser}"},
        )


def events_of(tap: EventTap, complaint_ids: Iterable[str]) -> list[CloudEvent]:
    """The tap's events about these complaints, in publication order (one key, one partition)."""
    ids = set(complaint_ids)
    return [e for e in tap.events if e.subject in ids]


async def wait_for_types(
    tap: EventTap, complaint_id: str, types: list[str], *, timeout: float = 60
) -> list[CloudEvent]:
    """Waits until this complaint's events are exactly `types` so far, and returns them."""
    await tap.wait_for(lambda _: len(events_of(tap, [complaint_id])) >= len(types), timeout=timeout)
    found = events_of(tap, [complaint_id])
    assert [e.type for e in found] == types
    return found


def raw_bytes_of(tap: EventTap, complaint_ids: Iterable[str]) -> list[bytes]:
    """The raw messages (as sent on the wire) about these complaints."""
    ids = {i.encode() for i in complaint_ids}
    return [record.value for record in tap.raw if record.key in ids]
