"""Erasure over real HTTP: the customer's personal data goes, the statistics stay."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

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
