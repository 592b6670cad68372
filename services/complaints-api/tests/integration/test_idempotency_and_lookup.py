"""Idempotency-Key on complaints' POSTs, and finding complaints, over real HTTP and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from .conftest import Api


def body(**fields: Any) -> dict[str, Any]:
    return {
        "received_at": (datetime.now(UTC) - timedelta(minutes=30)).isoformat(),
        "channel": "email",
        "service_area": "waste",
        "description": "My bin was missed three weeks running.",
        **fields,
    }


async def count(api: Api, **query: Any) -> int:
    response = await api.client.get(
        "/v1/complaints", params={**query, "total": "true"}, headers=api.writer
    )
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


async def test_a_retried_complaint_is_recorded_once_with_the_same_answer(api: Api) -> None:
    sent = body()
    headers = {**api.writer, "Idempotency-Key": "complaint-1"}
    first = await api.client.post("/v1/complaints", json=sent, headers=headers)
    assert first.status_code == 201, first.text
    assert first.headers["location"] == f"/v1/complaints/{first.json()['id']}"
    again = await api.client.post("/v1/complaints", json=sent, headers=headers)
    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["location"] == first.headers["location"]
    other = await api.client.post("/v1/complaints", json=body(channel="letter"), headers=headers)
    assert other.status_code == 422
    assert other.json()["type"].endswith("/idempotency-key-reused")
    assert await count(api) == 1


async def test_concurrent_retries_record_one_complaint(api: Api) -> None:
    sent = body()
    headers = {**api.writer, "Idempotency-Key": "complaint-race"}
    answers = await asyncio.gather(
        *(api.client.post("/v1/complaints", json=sent, headers=headers) for _ in range(2))
    )
    assert sorted(a.status_code for a in answers) in ([201, 201], [201, 409])
    created = [a for a in answers if a.status_code == 201]
    assert all(a.content == created[0].content for a in created)
    assert await count(api) == 1


async def test_a_retried_step_answers_the_first_answer(api: Api) -> None:
    complaint = await api.create()
    url = f"/v1/complaints/{complaint['id']}/acknowledge"
    step = {"officer": "officer-1"}
    headers = {**api.writer, "Idempotency-Key": "ack-1"}
    first = await api.client.post(url, json=step, headers=headers)
    assert first.status_code == 200, first.text
    again = await api.client.post(url, json=step, headers=headers)
    assert (again.status_code, again.content) == (200, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    history = (await api.get(complaint["id"]))["history"]
    assert [h["action"] for h in history].count("acknowledged") == 1


async def test_complaints_are_found_by_each_filter_and_paged_with_a_total(
    api: Api, issue_api_key: Callable[..., str]
) -> None:
    ada = {"name": "Ada", "email": "Ada@Example.org", "phone": "+44 7700 900123", "uprn": "1001"}
    made = []
    for minutes, channel, area in (
        (50, "email", "waste"),
        (40, "phone", "housing"),
        (30, "email", "housing"),
    ):
        fields: dict[str, Any] = {
            "received_at": (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat(),
            "channel": channel,
            "service_area": area,
        }
        if channel == "email":
            fields["customer"] = ada
        made.append(await api.create(**fields))
    first, second, third = made
    await api.ok(second["id"], "acknowledge", officer="officer-9")

    async def ids(**query: Any) -> list[str]:
        found: list[str] = []
        cursor = None
        while True:
            params = {**query, "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (
                await api.client.get("/v1/complaints", params=params, headers=api.writer)
            ).json()
            found.extend(item["id"] for item in page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return found

    assert await ids() == [third["id"], second["id"], first["id"]]
    assert await count(api) == 3
    assert await ids(reference=second["reference"]) == [second["id"]]
    assert await ids(channel="phone") == [second["id"]]
    assert await ids(service_area="housing") == [third["id"], second["id"]]
    assert await ids(officer="officer-9") == [second["id"]]
    assert await ids(status="acknowledged") == [second["id"]]
    # The officer's key holds complaints:read only: no lookups by customer.
    refused = await api.client.get(
        "/v1/complaints", params={"customer_email": "ada@example.org"}, headers=api.writer
    )
    assert refused.status_code == 403
    assert "customers:read" in refused.json()["detail"]
    finder = {"Authorization": f"Bearer {issue_api_key('complaints:read', 'customers:read')}"}
    for query in (
        {"customer_email": "ada@example.org"},
        {"customer_phone": "07700 900123"},
        {"customer_uprn": "1001"},
    ):
        page = await api.client.get("/v1/complaints", params=query, headers=finder)
        assert page.status_code == 200, page.text
        assert [c["id"] for c in page.json()["items"]] == [third["id"], first["id"]]
    bad = await api.client.get("/v1/complaints", params={"customer_uprn": "x1"}, headers=finder)
    assert bad.status_code == 422
