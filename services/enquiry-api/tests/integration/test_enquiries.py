"""Enquiries over real HTTP: create, read, list, and every step of the lifecycle with its event."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from contact_common.events import CloudEvent
from contact_devtools.testing import EventTap

LONDON = ZoneInfo("Europe/London")

NewEnquiry = Callable[..., Awaitable[dict[str, Any]]]
PERSONAL = (b"Ada Lovelace", b"ada.lovelace@example.org", b"07700 900123", b"Analytical Row")


def of(subject: str, events: list[CloudEvent]) -> list[CloudEvent]:
    return [e for e in events if e.subject == subject]


async def test_an_enquiry_is_recorded_with_a_reference_and_published(
    admin: httpx.AsyncClient,
    event_tap: Callable[[str], EventTap],
    body_of: Callable[..., dict[str, Any]],
) -> None:
    async with event_tap("contact.events") as tap:
        # A reference carries the year it was issued in (London time), whatever the date the
        # suite runs on: both ends of the call, should it straddle New Year.
        years = {datetime.now(LONDON).year}
        response = await admin.post("/v1/enquiries", json=body_of())
        years.add(datetime.now(LONDON).year)
        assert response.status_code == 201, response.text
        created = response.json()
        assert response.headers["location"] == f"/v1/enquiries/{created['id']}"
        assert created["status"] == "open"
        assert any(created["reference"].startswith(f"ENQ-{year}-") for year in years)
        assert created["customer"]["email"] == "ada.lovelace@example.org"
        assert created["received_at"] == "2026-03-02T10:00:00Z"
        events = await tap.wait_for(lambda es: len(of(created["id"], es)) >= 1)

    (opened,) = of(created["id"], events)
    assert opened.type == "enquiry.opened"
    assert opened.data.reference == created["reference"]  # type: ignore[attr-defined]
    assert opened.data.channel == "email"  # type: ignore[attr-defined]
    assert opened.time.isoformat() == "2026-03-02T10:00:00+00:00"
    raw = b"".join(r.value for r in tap.raw)
    for personal in PERSONAL:
        assert personal not in raw


async def test_the_whole_lifecycle_publishes_each_step_and_keeps_its_history(
    admin: httpx.AsyncClient, event_tap: Callable[[str], EventTap], new_enquiry: NewEnquiry
) -> None:
    async with event_tap("contact.events") as tap:
        enquiry = await new_enquiry()
        url = f"/v1/enquiries/{enquiry['id']}"
        steps: list[tuple[str, dict[str, Any], str]] = [
            ("acknowledge", {"at": "2026-03-02T11:00:00+00:00"}, "acknowledged"),
            ("assign", {"service_area": "housing", "assignee_id": "officer-17"}, "assigned"),
            ("respond", {}, "responded"),
            ("resolve", {"first_point": False}, "resolved"),
            ("reopen", {}, "reopened"),
            ("respond", {}, "responded"),
            ("resolve", {}, "resolved"),
        ]
        for action, body, status in steps:
            response = await admin.post(f"{url}/{action}", json=body)
            assert response.status_code == 200, response.text
            assert response.json()["status"] == status
        events = await tap.wait_for(lambda es: len(of(enquiry["id"], es)) >= 8)

    assert [e.type for e in of(enquiry["id"], events)] == [
        "enquiry.opened",
        "enquiry.acknowledged",
        "enquiry.assigned",
        "enquiry.responded",
        "enquiry.resolved",
        "enquiry.reopened",
        "enquiry.responded",
        "enquiry.resolved",
    ]
    by_type = {e.type: e for e in of(enquiry["id"], events)}
    assert by_type["enquiry.acknowledged"].time.isoformat() == "2026-03-02T11:00:00+00:00"
    assigned = by_type["enquiry.assigned"].data
    assert (assigned.service_area, assigned.assignee_id) == ("housing", "officer-17")  # type: ignore[attr-defined]
    assert by_type["enquiry.reopened"].data.reopen_count == 1  # type: ignore[attr-defined]
    assert by_type["enquiry.resolved"].data.first_point is False  # type: ignore[attr-defined]
    raw = b"".join(r.value for r in tap.raw)
    for personal in PERSONAL:
        assert personal not in raw

    detail = (await admin.get(url)).json()
    assert detail["status"] == "resolved"
    assert detail["service_area"] == "housing"
    assert detail["reopen_count"] == 1
    assert detail["allowed_actions"] == ["reopen"]
    history = detail["history"]
    assert [(h["action"], h["from_status"], h["to_status"]) for h in history] == [
        ("opened", None, "open"),
        ("acknowledged", "open", "acknowledged"),
        ("assigned", "acknowledged", "assigned"),
        ("responded", "assigned", "responded"),
        ("resolved", "responded", "resolved"),
        ("reopened", "resolved", "reopened"),
        ("responded", "reopened", "responded"),
        ("resolved", "responded", "resolved"),
    ]
    assert {h["actor_name"] for h in history} == {"contact-centre"}
    assert history[1]["occurred_at"] == "2026-03-02T11:00:00Z"
    assert history[2]["details"] == {
        "service_area": "housing",
        "from_service_area": "waste",
        "assignee_id": "officer-17",
    }


async def test_resolved_at_first_point_when_nothing_was_handed_off(
    admin: httpx.AsyncClient, event_tap: Callable[[str], EventTap], new_enquiry: NewEnquiry
) -> None:
    async with event_tap("contact.events") as tap:
        enquiry = await new_enquiry(channel="phone")
        url = f"/v1/enquiries/{enquiry['id']}"
        # Assigning to an officer of the same service area is not a hand-off.
        assert (
            await admin.post(f"{url}/assign", json={"assignee_id": "agent-3"})
        ).status_code == 200
        resolved = await admin.post(f"{url}/resolve", json={"first_point": True})
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["first_point"] is True
        events = await tap.wait_for(
            lambda es: any(e.type == "enquiry.resolved" for e in of(enquiry["id"], es))
        )
    (event,) = [e for e in of(enquiry["id"], events) if e.type == "enquiry.resolved"]
    assert event.data.first_point is True  # type: ignore[attr-defined]


async def test_illegal_steps_are_refused_with_the_status_and_what_is_allowed(
    admin: httpx.AsyncClient, new_enquiry: NewEnquiry
) -> None:
    enquiry = await new_enquiry()
    url = f"/v1/enquiries/{enquiry['id']}"

    async def refused(action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await admin.post(f"{url}/{action}", json=body or {})
        assert response.status_code == 409, response.text
        assert response.headers["content-type"] == "application/problem+json"
        return response.json()

    reopen = await refused("reopen")
    assert reopen["current_status"] == "open"
    assert reopen["allowed_actions"] == ["acknowledge", "assign", "respond", "resolve"]
    assert "allowed next: acknowledge, assign, respond, resolve" in reopen["detail"]

    assert (await admin.post(f"{url}/acknowledge")).status_code == 200
    twice = await refused("acknowledge")
    assert "already been acknowledged" in twice["detail"]
    assert twice["current_status"] == "acknowledged"

    assert (await admin.post(f"{url}/respond")).status_code == 200
    assert "already been responded to" in (await refused("respond"))["detail"]
    assert (await admin.post(f"{url}/assign", json={"service_area": "planning"})).status_code == 200
    hand_off = await refused("resolve", {"first_point": True})
    assert "handed off to another service area" in hand_off["detail"]
    assert hand_off["type"].endswith("/first-point-not-possible")

    assert (await admin.post(f"{url}/resolve")).status_code == 200
    for action in ("acknowledge", "assign", "respond", "resolve"):
        body = await refused(action, {"service_area": "waste"} if action == "assign" else None)
        assert body["current_status"] == "resolved"
        assert body["allowed_actions"] == ["reopen"]
        assert "it is resolved" in body["detail"]

    assert (await admin.post(f"{url}/reopen")).status_code == 200
    after_reopen = await refused("resolve", {"first_point": True})
    assert "reopened" in after_reopen["detail"]
    history = (await admin.get(url)).json()["history"]
    assert len(history) == 6  # refusals leave no trace


async def test_a_second_enquiry_that_was_reopened_cannot_be_first_point(
    admin: httpx.AsyncClient, new_enquiry: NewEnquiry
) -> None:
    enquiry = await new_enquiry(channel="phone")
    url = f"/v1/enquiries/{enquiry['id']}"
    assert (await admin.post(f"{url}/resolve", json={"first_point": True})).status_code == 200
    assert (await admin.post(f"{url}/reopen")).status_code == 200
    response = await admin.post(f"{url}/resolve", json={"first_point": True})
    assert response.status_code == 409
    assert "reopened (1 time(s))" in response.json()["detail"]


async def test_step_times_must_be_plausible(
    admin: httpx.AsyncClient, new_enquiry: NewEnquiry
) -> None:
    enquiry = await new_enquiry(received_at="2026-03-02T10:00:00+00:00")
    url = f"/v1/enquiries/{enquiry['id']}"
    cases = [
        ("2026-03-02T09:59:59+00:00", "before the enquiry was received"),
        ("2099-01-01T00:00:00+00:00", "in the future"),
    ]
    for at, reason in cases:
        response = await admin.post(f"{url}/acknowledge", json={"at": at})
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "body.at"
        assert reason in response.json()["errors"][0]["message"]
    naive = await admin.post(f"{url}/acknowledge", json={"at": "2026-03-02T11:00:00"})
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["field"] == "body.at"
    ok = await admin.post(f"{url}/acknowledge", json={"at": "2026-03-02T12:00:00+01:00"})
    assert ok.status_code == 200
    assert ok.json()["acknowledged_at"] == "2026-03-02T11:00:00Z"
    earlier = await admin.post(f"{url}/respond", json={"at": "2026-03-02T10:30:00+00:00"})
    assert earlier.status_code == 422
    assert "previous step" in earlier.json()["errors"][0]["message"]


async def test_bad_enquiries_get_a_problem_naming_the_field(
    admin: httpx.AsyncClient, body_of: Callable[..., dict[str, Any]]
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        (body_of(received_at="2026-03-02T10:00:00"), "body.received_at"),
        (body_of(received_at="2099-03-02T10:00:00+00:00"), "body.received_at"),
        (body_of(service_area="space_travel"), "body.service_area"),
        (body_of(service_area="Not A Slug"), "body.service_area"),
        (body_of(channel="carrier_pigeon"), "body.channel"),
        (body_of(description=""), "body.description"),
        (body_of(customer={"email": "not-an-email"}), "body.customer.email"),
        (body_of(customer={"uprn": "12-34"}), "body.customer.uprn"),
        # PostgreSQL text holds no NUL, UTF-8 no unpaired surrogate: refused, never a 500.
        (body_of(customer={"email": "J\u0000@example.org"}), "body.customer.email"),
        (body_of(description="nul \u0000 byte"), "body.description"),
        (body_of(customer={"name": "lone \ud800 surrogate"}), "body.customer.name"),
        (body_of(customer={"address": "1 High St\u0000"}), "body.customer.address"),
        (body_of(surprise="field"), "body.surprise"),
    ]
    for body, field in cases:
        # json.dumps escapes to ASCII, as a client may: `\ud800` reaches the server as JSON text.
        response = await admin.post(
            "/v1/enquiries", content=json.dumps(body), headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]], response.text
    not_json = await admin.post(
        "/v1/enquiries", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422
    assert (await admin.get("/v1/enquiries/not-a-uuid")).status_code == 422
    missing = await admin.get("/v1/enquiries/7d0e3a4c-1f2b-4c3d-8e9f-0a1b2c3d4e5f")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    step = await admin.post("/v1/enquiries/7d0e3a4c-1f2b-4c3d-8e9f-0a1b2c3d4e5f/acknowledge")
    assert step.status_code == 404


async def test_oversized_bodies_are_refused(
    admin: httpx.AsyncClient, body_of: Callable[..., dict[str, Any]]
) -> None:
    response = await admin.post("/v1/enquiries", json=body_of(description="x" * 4_300_000))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


async def test_keys_need_the_right_scope(
    client_for: Callable[..., httpx.AsyncClient],
    body_of: Callable[..., dict[str, Any]],
    new_enquiry: NewEnquiry,
) -> None:
    enquiry = await new_enquiry()
    async with (
        client_for("enquiries:read", name="dashboard") as reader,
        client_for("standby:write", name="contractor") as contractor,
        client_for("enquiries:write", name="website") as writer,
        httpx.AsyncClient(base_url=str(reader.base_url)) as anonymous,
    ):
        assert (await anonymous.get("/v1/enquiries")).status_code == 401
        assert (await reader.get(f"/v1/enquiries/{enquiry['id']}")).status_code == 200
        assert (await reader.post("/v1/enquiries", json=body_of())).status_code == 403
        assert (await contractor.post("/v1/enquiries", json=body_of())).status_code == 403
        assert (await contractor.get("/v1/enquiries")).status_code == 403
        created = await writer.post("/v1/enquiries", json=body_of())
        assert created.status_code == 201
        step = await writer.post(f"/v1/enquiries/{created.json()['id']}/acknowledge")
        assert step.status_code == 200
        assert (await writer.get("/v1/enquiries")).status_code == 403
    detail = (await reader_get(client_for, created.json()["id"]))["history"]
    assert [h["actor_name"] for h in detail] == ["website", "website"]


async def reader_get(client_for: Callable[..., httpx.AsyncClient], enquiry_id: str) -> Any:
    async with client_for("enquiries:read") as reader:
        return (await reader.get(f"/v1/enquiries/{enquiry_id}")).json()


async def test_references_are_unique_and_consecutive_under_concurrency(
    admin: httpx.AsyncClient, body_of: Callable[..., dict[str, Any]]
) -> None:
    responses = await asyncio.gather(
        *(admin.post("/v1/enquiries", json=body_of()) for _ in range(20))
    )
    assert all(r.status_code == 201 for r in responses)
    numbers = sorted(int(r.json()["reference"].rsplit("-", 1)[1]) for r in responses)
    assert numbers == list(range(1, 21))


async def test_two_racing_resolutions_resolve_once(
    admin: httpx.AsyncClient, new_enquiry: NewEnquiry
) -> None:
    enquiry = await new_enquiry()
    url = f"/v1/enquiries/{enquiry['id']}/resolve"
    responses = await asyncio.gather(*(admin.post(url) for _ in range(4)))
    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409]
    history = (await admin.get(f"/v1/enquiries/{enquiry['id']}")).json()["history"]
    assert [h["action"] for h in history] == ["opened", "resolved"]


async def test_listing_filters_and_pages_with_a_cursor(
    admin: httpx.AsyncClient, new_enquiry: NewEnquiry
) -> None:
    letters = [
        await new_enquiry(channel="letter", received_at=f"2026-02-0{day}T09:00:00+00:00")
        for day in range(1, 6)
    ]
    await new_enquiry(channel="email", received_at="2026-02-03T09:00:00+00:00")
    await new_enquiry(channel="letter", service_area="housing")
    await admin.post(f"/v1/enquiries/{letters[0]['id']}/resolve")

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"channel": "letter", "service_area": "waste", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await admin.get("/v1/enquiries", params=params)).json()
        seen.extend(e["id"] for e in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [e["id"] for e in reversed(letters)]  # newest received first

    window = await admin.get(
        "/v1/enquiries",
        params={
            "channel": "letter",
            "received_from": "2026-02-02T00:00:00+00:00",
            "received_to": "2026-02-04T00:00:00+00:00",
        },
    )
    assert [e["id"] for e in window.json()["items"]] == [letters[2]["id"], letters[1]["id"]]
    resolved = await admin.get("/v1/enquiries", params={"status": "resolved"})
    assert [e["id"] for e in resolved.json()["items"]] == [letters[0]["id"]]

    for params in (
        {"limit": 201},
        {"limit": 0},
        {"cursor": "garbage"},
        {"status": "lost"},
        {"received_from": "2026-02-02"},
        {"received_from": "2026-02-05T00:00:00+00:00", "received_to": "2026-02-01T00:00:00+00:00"},
    ):
        bad = await admin.get("/v1/enquiries", params=params)
        assert bad.status_code == 422, (params, bad.text)
        assert bad.headers["content-type"] == "application/problem+json"
