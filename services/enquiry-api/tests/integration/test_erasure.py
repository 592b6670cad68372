"""Erasure over real HTTP: the customer's personal data goes, the statistics stay."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from contact_devtools.testing import LiveServer

NewEnquiry = Callable[..., Awaitable[dict[str, Any]]]


async def test_a_customer_is_erased_everywhere_and_the_statistics_stay(
    admin: httpx.AsyncClient,
    client_for: Callable[..., httpx.AsyncClient],
    new_enquiry: NewEnquiry,
) -> None:
    first = await new_enquiry(
        channel="email",
        location={"address": "Outside 12 Analytical Row", "lat": 51.5, "long": -0.7},
    )
    second = await new_enquiry(
        channel="phone",
        customer={"name": "A. Lovelace", "email": "ADA.LOVELACE@example.org"},
    )
    other = await new_enquiry(customer={"name": "Charles Babbage", "email": "cb@example.org"})
    await admin.post(f"/v1/enquiries/{first['id']}/resolve")
    standby = await admin.post(
        "/v1/standby/call-records",
        json=[
            {
                "record_id": "SB-77",
                "call_started_at": "2026-03-07T22:15:00+00:00",
                "answered_at": "2026-03-07T22:15:20+00:00",
                "ended_at": "2026-03-07T22:21:00+00:00",
                "category": "repair",
                "service_area": "housing",
                "action_taken": "Plumber sent",
                "requires_follow_up": True,
                "caller_phone": "+44 7700 900123",
                "notes": "Ada says the boiler is leaking",
            }
        ],
    )
    follow_up = standby.json()["results"][0]["enquiry_id"]

    async with client_for("customers:erase", name="data-protection-officer") as dpo:
        erased = await dpo.post(
            "/v1/customers/erase",
            json={"email": "ada.lovelace@example.org", "phone": "07700 900123"},
        )
        assert erased.status_code == 200, erased.text
        body = erased.json()
        assert {e["id"] for e in body["enquiries"]} == {first["id"], second["id"], follow_up}
        assert not any(e["already_erased"] for e in body["enquiries"])
        assert body["standby_records"] == 1
        again = await dpo.post("/v1/customers/erase", json={"enquiry_ids": [first["id"]]})
        assert again.json()["enquiries"] == [
            {"id": first["id"], "reference": first["reference"], "already_erased": True}
        ]

    detail = (await admin.get(f"/v1/enquiries/{first['id']}")).json()
    assert detail["customer"] is None
    assert detail["description"] is None
    assert detail["location"] is None
    assert detail["erased_at"] is not None
    # What the statistics need is untouched.
    assert (detail["channel"], detail["service_area"], detail["status"]) == (
        "email",
        "waste",
        "resolved",
    )
    assert detail["received_at"] == "2026-03-02T10:00:00Z"
    assert detail["reference"] == first["reference"]
    last = detail["history"][-1]
    assert (last["action"], last["actor_name"]) == ("customer_erased", "data-protection-officer")
    assert last["from_status"] == last["to_status"] == "resolved"
    assert len([h for h in detail["history"] if h["action"] == "customer_erased"]) == 1

    follow = (await admin.get(f"/v1/enquiries/{follow_up}")).json()
    assert follow["customer"] is None and follow["description"] is None
    assert (follow["channel"], follow["status"]) == ("standby", "assigned")

    listing = (await admin.get("/v1/enquiries", params={"limit": 200})).text
    for personal in ("Ada", "Lovelace", "ada.lovelace", "7700 900123", "Analytical Row", "boiler"):
        assert personal not in listing
    assert "Charles Babbage" in listing  # someone else's data stays
    untouched = (await admin.get(f"/v1/enquiries/{other['id']}")).json()
    assert untouched["customer"]["email"] == "cb@example.org"
    # The erased enquiry can still move through its lifecycle.
    assert (await admin.post(f"/v1/enquiries/{second['id']}/acknowledge")).status_code == 200


async def test_erasure_needs_its_scope_and_someone_to_erase(
    client_for: Callable[..., httpx.AsyncClient], new_enquiry: NewEnquiry
) -> None:
    enquiry = await new_enquiry()
    async with (
        client_for("enquiries:write") as writer,
        client_for("customers:erase") as dpo,
    ):
        forbidden = await writer.post("/v1/customers/erase", json={"enquiry_ids": [enquiry["id"]]})
        assert forbidden.status_code == 403
        nobody = await dpo.post("/v1/customers/erase", json={})
        assert nobody.status_code == 422
        assert nobody.headers["content-type"] == "application/problem+json"
        missing = await dpo.post(
            "/v1/customers/erase",
            json={"enquiry_ids": [enquiry["id"], "7d0e3a4c-1f2b-4c3d-8e9f-0a1b2c3d4e5f"]},
        )
        assert missing.status_code == 404
        assert "7d0e3a4c-1f2b-4c3d-8e9f-0a1b2c3d4e5f" in missing.json()["detail"]
        bad_email = await dpo.post("/v1/customers/erase", json={"email": "nope"})
        assert bad_email.status_code == 422
        assert bad_email.json()["errors"][0]["field"] == "body.email"
    async with client_for("enquiries:read") as reader:
        kept = (await reader.get(f"/v1/enquiries/{enquiry['id']}")).json()
    assert kept["customer"]["name"] == "Ada Lovelace"  # the 404 erased nothing


async def test_updates_posted_through_open311_are_erased_with_the_customer(
    admin: httpx.AsyncClient,
    client_for: Callable[..., httpx.AsyncClient],
    enquiry_api: LiveServer,
    issue_api_key: Callable[..., str],
) -> None:
    key = issue_api_key("enquiries:write", name="fixmystreet")
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    ada = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada.lovelace@example.org"}
    grace = {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.org"}
    async with httpx.AsyncClient(base_url=f"{enquiry_api.url}/open311/v2") as open311:

        async def report(writer: dict[str, str]) -> str:
            form = {"api_key": key, "service_code": "other", "address_string": "High St"}
            response = await open311.post("/requests.json", data={**form, **writer})
            return response.json()[0]["service_request_id"]

        async def comment(reference: str, update_id: str, writer: dict[str, str], text: str) -> str:
            form = {
                "api_key": key,
                "service_request_id": reference,
                "update_id": update_id,
                "updated_datetime": now,
                "status": "OPEN",
                "description": text,
                "media_url": f"https://fixmystreet.example/c/{update_id}.jpeg",
                **writer,
            }
            response = await open311.post("/servicerequestupdates.json", data=form)
            assert response.status_code == 200, response.text
            return response.json()[0]["update_id"]

        adas_report, graces_report = await report(ada), await report(grace)
        # Ada on her report, a neighbour on Ada's report, Ada on Grace's, Grace on hers.
        ids = [
            await comment(adas_report, "1", ada, "Ada: still there"),
            await comment(adas_report, "2", grace, "Grace: Ada's bin is still out"),
            await comment(graces_report, "3", ada, "Ada: me too"),
            await comment(graces_report, "4", grace, "Grace: thanks"),
        ]

        async with client_for("customers:erase", name="data-protection-officer") as dpo:
            erased = await dpo.post("/v1/customers/erase", json={"email": ada["email"]})
        assert erased.status_code == 200, erased.text
        assert [e["reference"] for e in erased.json()["enquiries"]] == [adas_report]
        # Every update on Ada's report (by anyone: it is about her report), and Ada's own.
        assert erased.json()["resident_updates"] == 3

        listed = {
            u["update_id"]: u for u in (await open311.get("/servicerequestupdates.json")).json()
        }
        assert [listed[i]["description"] for i in ids] == [None, None, None, "Grace: thanks"]
        assert [listed[i]["media_url"] is None for i in ids] == [True, True, True, False]
        # FixMyStreet retrying Ada's update after the erasure: the same update, not stored again.
        again = await comment(adas_report, "1", ada, "Ada: still there")
        assert again == ids[0]
        listed_again = (await open311.get("/servicerequestupdates.json")).json()
        assert len(listed_again) == len(listed)
        assert "still there" not in str(listed_again)

    page = (await admin.get("/v1/enquiries", params={"limit": 200})).json()["items"]
    by_reference = {e["reference"]: e["id"] for e in page}
    updates = []
    for reference in (adas_report, graces_report):
        detail = (await admin.get(f"/v1/enquiries/{by_reference[reference]}")).json()
        updates += [h["update"] for h in detail["history"] if h["action"] == "update_received"]
    assert [u["update_id"] for u in updates] == ["1", "2", "3", "4"]
    for update in updates[:3]:
        assert (update["name"], update["email"], update["description"]) == (None, None, None)
        assert update["media_urls"] == [] and update["erased_at"] is not None
        assert update["status"] == "open"  # what the statistics and the council need stays
    assert (updates[3]["name"], updates[3]["email"]) == ("Grace Hopper", "grace@example.org")
    assert updates[3]["erased_at"] is None
