"""Corrections and voids of enquiries over real HTTP, PostgreSQL and the broker."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import uuid4

import httpx

from contact_common.events import CloudEvent
from contact_devtools.testing import EventTap

NewEnquiry = Callable[..., Awaitable[dict[str, Any]]]


def of(subject: str, events: list[CloudEvent]) -> list[CloudEvent]:
    return [e for e in events if e.subject == subject]


async def test_a_correction_is_published_and_kept_with_old_and_new_values(
    admin: httpx.AsyncClient, event_tap: Callable[[str], EventTap], new_enquiry: NewEnquiry
) -> None:
    async with event_tap("contact.events") as tap:
        enquiry = await new_enquiry(channel="email", received_at="2026-03-02T10:00:00+00:00")
        url = f"/v1/enquiries/{enquiry['id']}"
        response = await admin.patch(
            url,
            json={
                "received_at": "2026-02-27T16:30:00+00:00",
                "channel": "letter",
                "reason": "keyed from the letter's date stamp",
            },
        )
        assert response.status_code == 200, response.text
        corrected = response.json()
        assert (corrected["channel"], corrected["received_at"]) == (
            "letter",
            "2026-02-27T16:30:00Z",
        )
        assert corrected["correction_count"] == 1
        # The same values again change nothing: no second event, no second entry.
        again = await admin.patch(url, json={"channel": "letter", "reason": "retry"})
        assert again.status_code == 200 and again.json()["correction_count"] == 1
        events = await tap.wait_for(lambda es: len(of(enquiry["id"], es)) >= 2)

    assert [e.type for e in of(enquiry["id"], events)] == ["enquiry.opened", "enquiry.corrected"]
    data = of(enquiry["id"], events)[1].data
    assert data.channel == "letter" and data.previous_channel == "email"  # type: ignore[attr-defined]
    assert data.received_at.isoformat() == "2026-02-27T16:30:00+00:00"
    assert data.previous_received_at.isoformat() == "2026-03-02T10:00:00+00:00"  # type: ignore[attr-defined]
    assert data.correction == 1  # type: ignore[attr-defined]
    assert b"date stamp" not in b"".join(r.value for r in tap.raw)

    history = (await admin.get(url)).json()["history"]
    assert [h["action"] for h in history] == ["opened", "corrected"]
    assert history[1]["details"] == {
        "reason": "keyed from the letter's date stamp",
        "changes": {
            "received_at": {"from": "2026-03-02T10:00:00+00:00", "to": "2026-02-27T16:30:00+00:00"},
            "channel": {"from": "email", "to": "letter"},
        },
    }


async def test_impossible_corrections_are_problems_naming_the_field(
    admin: httpx.AsyncClient, new_enquiry: NewEnquiry
) -> None:
    enquiry = await new_enquiry(received_at="2026-03-02T10:00:00+00:00")
    url = f"/v1/enquiries/{enquiry['id']}"
    ack = await admin.post(f"{url}/acknowledge", json={"at": "2026-03-02T11:00:00+00:00"})
    assert ack.status_code == 200
    cases: list[tuple[dict[str, Any], str]] = [
        ({"received_at": "2026-03-02T12:00:00+00:00", "reason": "x"}, "body.received_at"),
        ({"received_at": "2999-01-01T00:00:00+00:00", "reason": "x"}, "body.received_at"),
        ({"service_area": "moon_base", "reason": "x"}, "body.service_area"),
        ({"channel": "pigeon", "reason": "x"}, "body.channel"),
        ({"channel": "letter"}, "body.reason"),
        ({"reason": "nothing named"}, "body"),
        ({"received_at": "2026-03-02T09:00:00", "reason": "x"}, "body.received_at"),
    ]
    for body, field in cases:
        response = await admin.patch(url, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        fields = [error["field"] for error in response.json()["errors"]]
        assert any(f == field or f.startswith(field) for f in fields), (body, fields)
    missing = await admin.patch(
        f"/v1/enquiries/{uuid4()}", json={"channel": "web_form", "reason": "x"}
    )
    assert missing.status_code == 404
    # Before the first step is fine.
    ok = await admin.patch(url, json={"received_at": "2026-03-02T10:45:00+00:00", "reason": "x"})
    assert ok.status_code == 200, ok.text


async def test_a_voided_enquiry_takes_no_further_steps(
    admin: httpx.AsyncClient, event_tap: Callable[[str], EventTap], new_enquiry: NewEnquiry
) -> None:
    original = await new_enquiry()
    async with event_tap("contact.events") as tap:
        duplicate = await new_enquiry()
        url = f"/v1/enquiries/{duplicate['id']}"
        wrong = await admin.post(
            f"{url}/void",
            json={"reason_code": "spam", "reason": "x", "duplicate_of": original["id"]},
        )
        assert wrong.status_code == 422
        assert wrong.json()["errors"][0]["field"] == "body.duplicate_of"
        bad_code = await admin.post(f"{url}/void", json={"reason_code": "bored", "reason": "x"})
        assert bad_code.status_code == 422
        void_body = {
            "reason_code": "duplicate",
            "reason": "sent twice by the portal",
            "duplicate_of": original["id"],
        }
        key = {"Idempotency-Key": f"void-{uuid4()}"}
        response = await admin.post(f"{url}/void", json=void_body, headers=key)
        assert response.status_code == 200, response.text
        # A retry with the key gets the first answer, not a 409.
        retried = await admin.post(f"{url}/void", json=void_body, headers=key)
        assert (retried.status_code, retried.content) == (200, response.content)
        events = await tap.wait_for(lambda es: len(of(duplicate["id"], es)) >= 2)

    voided = response.json()
    assert voided["status"] == "voided"
    assert voided["void_reason_code"] == "duplicate"
    assert voided["duplicate_of"] == original["id"]
    assert voided["voided_at"] is not None
    assert voided["allowed_actions"] == []
    event = of(duplicate["id"], events)[1]
    assert event.type == "enquiry.voided"
    assert event.data.cause == "duplicate"  # type: ignore[attr-defined]
    assert str(event.data.duplicate_of) == original["id"]  # type: ignore[attr-defined]

    for action in ("acknowledge", "respond", "resolve"):
        refused = await admin.post(f"{url}/{action}", json={})
        assert refused.status_code == 409
        assert refused.json()["current_status"] == "voided"
    for refused in (
        await admin.post(f"{url}/void", json={"reason_code": "test", "reason": "again"}),
        await admin.patch(url, json={"channel": "letter", "reason": "too late"}),
    ):
        assert refused.status_code == 409
        assert refused.json()["type"].endswith("enquiry-voided")
    detail = (await admin.get(url)).json()
    assert detail["history"][-1]["action"] == "voided"
    assert detail["history"][-1]["details"]["reason"] == "sent twice by the portal"


async def test_corrections_and_voids_need_the_write_scope(
    client_for: Callable[..., httpx.AsyncClient], new_enquiry: NewEnquiry
) -> None:
    enquiry = await new_enquiry()
    url = f"/v1/enquiries/{enquiry['id']}"
    async with client_for("enquiries:read") as reader:
        patched = await reader.patch(url, json={"channel": "letter", "reason": "x"})
        voided = await reader.post(f"{url}/void", json={"reason_code": "test", "reason": "x"})
    assert (patched.status_code, voided.status_code) == (403, 403)
