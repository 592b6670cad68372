"""Finding enquiries over real HTTP: each filter, the customer lookups' scope, cursor and total."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

Body = Callable[..., dict[str, Any]]


async def pages(client: httpx.AsyncClient, **query: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    """Every item of a listing, following next_cursor; and each page's total."""
    items: list[dict[str, Any]] = []
    totals: list[Any] = []
    cursor = None
    while True:
        params = {**query, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/enquiries", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        totals.append(page["total"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items, totals


def customer(name: str, email: str, phone: str, uprn: str) -> dict[str, str]:
    return {"name": name, "email": email, "phone": phone, "uprn": uprn}


async def test_each_filter_narrows_the_list(admin: httpx.AsyncClient, body_of: Body) -> None:
    ada = customer("Ada", "Ada.Lovelace@example.org", "+44 7700 900123", "100023336956")
    bob = customer("Bob", "bob@example.org", "01632 960001", "200000000001")
    made = []
    for received_at, channel, area, who in (
        ("2026-03-02T10:00:00+00:00", "email", "waste", ada),
        ("2026-03-03T10:00:00+00:00", "phone", "waste", bob),
        ("2026-03-04T10:00:00+00:00", "letter", "housing", ada),
        ("2026-03-05T10:00:00+00:00", "email", "housing", bob),
    ):
        response = await admin.post(
            "/v1/enquiries",
            json=body_of(received_at=received_at, channel=channel, service_area=area, customer=who),
        )
        assert response.status_code == 201, response.text
        made.append(response.json())
    first, second, third, fourth = made
    url = f"/v1/enquiries/{second['id']}"
    assert (await admin.post(f"{url}/assign", json={"assignee_id": "officer-17"})).is_success
    assert (await admin.post(f"/v1/enquiries/{fourth['id']}/acknowledge")).is_success

    async def ids(**query: Any) -> list[str]:
        items, _ = await pages(admin, **query)
        return [item["id"] for item in items]

    newest_first = [fourth["id"], third["id"], second["id"], first["id"]]
    assert await ids() == newest_first
    assert await ids(reference=third["reference"]) == [third["id"]]
    assert await ids(reference="ENQ-1999-000001") == []
    assert await ids(channel="email") == [fourth["id"], first["id"]]
    assert await ids(service_area="housing") == [fourth["id"], third["id"]]
    assert await ids(status="acknowledged") == [fourth["id"]]
    assert await ids(assignee="officer-17") == [second["id"]]
    assert await ids(
        received_from="2026-03-03T10:00:00+00:00", received_to="2026-03-05T10:00:00+00:00"
    ) == [third["id"], second["id"]]
    # The customer lookups (admin holds every scope): email in any case, phone by its digits.
    assert await ids(customer_email="ada.lovelace@EXAMPLE.org") == [third["id"], first["id"]]
    assert await ids(customer_phone="07700 900123") == [third["id"], first["id"]]
    assert await ids(customer_uprn="200000000001") == [fourth["id"], second["id"]]
    assert await ids(customer_uprn="200000000001", channel="phone") == [second["id"]]


async def test_a_customer_lookup_needs_the_customers_read_scope(
    admin: httpx.AsyncClient, client_for: Callable[..., httpx.AsyncClient], body_of: Body
) -> None:
    created = (await admin.post("/v1/enquiries", json=body_of())).json()
    async with (
        client_for("enquiries:read", name="dashboard") as reader,
        client_for("enquiries:read", "customers:read", name="contact-centre") as finder,
    ):
        for query in (
            {"customer_email": "ada.lovelace@example.org"},
            {"customer_phone": "07700 900123"},
            {"customer_uprn": "100023336956"},
        ):
            refused = await reader.get("/v1/enquiries", params=query)
            assert refused.status_code == 403
            assert "customers:read" in refused.json()["detail"]
            found = await finder.get("/v1/enquiries", params=query)
            assert [e["id"] for e in found.json()["items"]] == [created["id"]]
        # Other filters need no more than enquiries:read.
        listed = await reader.get("/v1/enquiries", params={"reference": created["reference"]})
        assert [e["id"] for e in listed.json()["items"]] == [created["id"]]
        bad = await finder.get("/v1/enquiries", params={"customer_email": "not-an-email"})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "query.customer_email"


async def test_cursor_paging_over_several_pages_with_a_true_total(
    admin: httpx.AsyncClient, body_of: Body
) -> None:
    for day in range(1, 8):
        body = body_of(received_at=f"2026-04-{day:02d}T09:00:00+00:00")
        assert (await admin.post("/v1/enquiries", json=body)).status_code == 201
    # One more elsewhere, which the filter leaves out.
    assert (await admin.post("/v1/enquiries", json=body_of(service_area="housing"))).is_success

    items, totals = await pages(admin, service_area="waste", limit=3, total="true")
    assert len(items) == 7 and totals == [7, 7, 7]
    received = [item["received_at"] for item in items]
    assert received == sorted(received, reverse=True) and len(set(received)) == 7
    # Without total=true the field stays null: no count is made.
    _, totals = await pages(admin, limit=5)
    assert totals == [None, None]
    bad = await admin.get("/v1/enquiries", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.cursor"
