"""Telephony calls, reception visits and feedback over real HTTP, with their events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from contact_common.events import CloudEvent
from contact_devtools.testing import EventTap

NewEnquiry = Callable[..., Awaitable[dict[str, Any]]]


def call(call_id: str, **fields: Any) -> dict[str, Any]:
    record = {
        "call_id": call_id,
        "offered_at": "2026-03-02T10:00:00+00:00",
        "answered_at": "2026-03-02T10:00:12.5+00:00",
        "ended_at": "2026-03-02T10:04:00+00:00",
        "queue": "council-tax",
        "agent_id": "agent-7",
    }
    record.update(fields)
    return {k: v for k, v in record.items() if v is not None}


def of(subject: str, events: list[CloudEvent]) -> list[CloudEvent]:
    return [e for e in events if e.subject == subject]


@pytest.fixture
async def telephony(
    client_for: Callable[..., httpx.AsyncClient],
) -> Any:
    async with client_for("contacts:write", name="telephony") as client:
        yield client


async def test_calls_are_recorded_once_with_their_true_times(
    telephony: httpx.AsyncClient, event_tap: Callable[[str], EventTap], new_enquiry: NewEnquiry
) -> None:
    enquiry = await new_enquiry(channel="phone")
    async with event_tap("contact.events") as tap:
        answered = await telephony.post(
            "/v1/calls", json=call("T-1", service_area="council_tax", enquiry_id=enquiry["id"])
        )
        assert answered.status_code == 201, answered.text
        (result,) = answered.json()["results"]
        assert result["status"] == "created"
        batch = await telephony.post(
            "/v1/calls",
            json=[
                call(
                    "T-2",
                    answered_at=None,
                    abandoned_at="2026-03-02T10:00:40+00:00",
                    agent_id=None,
                ),
                call("T-1"),  # delivered again
                call(
                    "T-3",
                    offered_at="2026-03-02T10:01:00+00:00",
                    answered_at="2026-03-02T10:01:05+00:00",
                ),
                call(
                    "T-3",
                    offered_at="2026-03-02T10:01:00+00:00",
                    answered_at="2026-03-02T10:01:05+00:00",
                ),
            ],
        )
        assert batch.status_code == 201, batch.text
        body = batch.json()
        assert [r["status"] for r in body["results"]] == [
            "created",
            "duplicate",
            "created",
            "duplicate",
        ]
        assert body["results"][1]["id"] == result["id"]
        assert body["results"][2]["id"] == body["results"][3]["id"]
        assert (body["created"], body["duplicate"]) == (2, 2)
        ids = {r["call_id"]: r["id"] for r in body["results"]}
        events = await tap.wait_for(lambda es: sum(len(of(i, es)) for i in ids.values()) >= 6)
        again = await telephony.post(
            "/v1/calls",
            json=[
                call("T-1"),
                call("T-2", answered_at=None, abandoned_at="2026-03-02T10:00:40+00:00"),
            ],
        )
        assert again.status_code == 200
        assert [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
        marker = await telephony.post("/v1/calls", json=call("T-4"))
        marker_id = marker.json()["results"][0]["id"]
        events = await tap.wait_for(lambda es: len(of(marker_id, es)) >= 2)

    first = of(ids["T-1"], events)
    assert [e.type for e in first] == ["call.offered", "call.answered"]  # and no repeats
    offered, answer = first
    assert offered.time.isoformat() == "2026-03-02T10:00:00+00:00"
    assert answer.time.isoformat() == "2026-03-02T10:00:12.500000+00:00"
    assert answer.data.wait_seconds == 12.5  # type: ignore[attr-defined]
    assert answer.data.agent_id == "agent-7"  # type: ignore[attr-defined]
    assert answer.data.channel == "phone"  # type: ignore[attr-defined]
    assert answer.data.service_area == "council_tax"  # type: ignore[attr-defined]
    abandoned = of(ids["T-2"], events)
    assert [e.type for e in abandoned] == ["call.offered", "call.abandoned"]
    assert abandoned[1].data.wait_seconds == 40  # type: ignore[attr-defined]
    assert len(of(ids["T-3"], events)) == 2


async def test_bad_call_records_are_refused_naming_the_record_and_field(
    telephony: httpx.AsyncClient,
) -> None:
    cases: list[tuple[Any, str]] = [
        ([call("A"), call("B", answered_at=None)], "body.1"),
        ([call("A"), call("B", answered_at="2026-03-02T09:00:00+00:00")], "body.1"),
        (call("A", offered_at="2026-03-02T10:00:00"), "body.offered_at"),
        (call("A", service_area="moon"), "body.service_area"),
        (call("A", enquiry_id="7d0e3a4c-1f2b-4c3d-8e9f-0a1b2c3d4e5f"), "body.enquiry_id"),
        ([call("A"), call("B", queue="Not A Slug")], "body.1.queue"),
        ("a call", "body"),
        ([], "body"),
    ]
    for payload, field in cases:
        response = await telephony.post("/v1/calls", json=payload)
        assert response.status_code == 422, (payload, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]], response.text
    # Nothing of a refused batch was stored.
    retry = await telephony.post("/v1/calls", json=[call("A"), call("B")])
    assert [r["status"] for r in retry.json()["results"]] == ["created", "created"]


async def test_too_many_calls_in_one_request_is_413(telephony: httpx.AsyncClient) -> None:
    records = [{"call_id": f"C{i}"} for i in range(1001)]
    response = await telephony.post("/v1/calls", json=records)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["max_records"] == 1000


async def test_contacts_need_the_contacts_scope(
    client_for: Callable[..., httpx.AsyncClient],
) -> None:
    async with (
        client_for("enquiries:write") as writer,
        client_for("standby:write") as contractor,
    ):
        for client in (writer, contractor):
            assert (await client.post("/v1/calls", json=call("X"))).status_code == 403
            assert (await client.post("/v1/visits", json={})).status_code == 403
            assert (await client.post("/v1/feedback", json={})).status_code == 403


async def test_a_visit_arrives_and_is_attended(
    telephony: httpx.AsyncClient, event_tap: Callable[[str], EventTap]
) -> None:
    async with event_tap("contact.events") as tap:
        arrived = await telephony.post(
            "/v1/visits",
            json={
                "visit_id": "K-1",
                "arrived_at": "2026-03-02T10:00:00+00:00",
                "service_area": "benefits",
            },
        )
        assert arrived.status_code == 201, arrived.text
        (result,) = arrived.json()["results"]
        assert result["status"] == "created"
        attended = await telephony.post(
            "/v1/visits",
            json=[
                {
                    "visit_id": "K-1",
                    "arrived_at": "2026-03-02T10:00:00+00:00",
                    "attended_at": "2026-03-02T10:04:30+00:00",
                    "agent_id": "officer-2",
                },
                {
                    "visit_id": "K-2",
                    "arrived_at": "2026-03-02T10:01:00+00:00",
                    "attended_at": "2026-03-02T10:02:00+00:00",
                },
            ],
        )
        assert [r["status"] for r in attended.json()["results"]] == ["attended", "created"]
        repeat = await telephony.post(
            "/v1/visits",
            json={
                "visit_id": "K-1",
                "arrived_at": "2026-03-02T10:00:00+00:00",
                "attended_at": "2026-03-02T10:04:30+00:00",
            },
        )
        assert repeat.status_code == 200
        assert repeat.json()["results"][0]["status"] == "duplicate"
        second = attended.json()["results"][1]["id"]
        events = await tap.wait_for(
            lambda es: len(of(result["id"], es)) >= 2 and len(of(second, es)) >= 2
        )
    first = of(result["id"], events)
    assert [e.type for e in first] == ["visit.arrived", "visit.attended"]
    assert first[1].data.wait_seconds == 270  # type: ignore[attr-defined]
    assert first[1].data.service_area == "benefits"  # type: ignore[attr-defined]
    assert first[1].data.agent_id == "officer-2"  # type: ignore[attr-defined]
    assert [e.type for e in of(second, events)] == ["visit.arrived", "visit.attended"]

    backwards = await telephony.post(
        "/v1/visits",
        json={
            "visit_id": "K-3",
            "arrived_at": "2026-03-02T10:05:00+00:00",
            "attended_at": "2026-03-02T10:00:00+00:00",
        },
    )
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "body"


async def test_feedback_is_scored_once_per_response(
    telephony: httpx.AsyncClient, event_tap: Callable[[str], EventTap], new_enquiry: NewEnquiry
) -> None:
    enquiry = await new_enquiry(channel="portal", service_area="parking")
    async with event_tap("contact.events") as tap:
        given = await telephony.post(
            "/v1/feedback",
            json={
                "score": 5,
                "enquiry_id": enquiry["id"],
                "response_id": "survey-1",
                "submitted_at": "2026-03-03T08:00:00+00:00",
            },
        )
        assert given.status_code == 201, given.text
        assert (given.json()["channel"], given.json()["service_area"]) == ("portal", "parking")
        repeat = await telephony.post(
            "/v1/feedback",
            json={"score": 1, "enquiry_id": enquiry["id"], "response_id": "survey-1"},
        )
        assert repeat.status_code == 200
        assert repeat.json()["status"] == "duplicate"
        assert repeat.json()["id"] == given.json()["id"]
        assert repeat.json()["score"] == 5
        anonymous = await telephony.post(
            "/v1/feedback", json={"score": 3, "channel": "web_form", "service_area": "waste"}
        )
        assert anonymous.status_code == 201
        events = await tap.wait_for(lambda es: len(of(anonymous.json()["id"], es)) >= 1)
    (scored,) = of(given.json()["id"], events)
    assert scored.type == "feedback.submitted"
    assert scored.data.score == 5  # type: ignore[attr-defined]
    assert scored.data.channel == "portal"  # type: ignore[attr-defined]
    assert str(scored.data.enquiry_id) == enquiry["id"]  # type: ignore[attr-defined]
    assert scored.time.isoformat() == "2026-03-03T08:00:00+00:00"

    for body, field in [
        ({"score": 6, "channel": "web_form", "service_area": "waste"}, "body.score"),
        ({"score": 3}, "body.channel"),
        ({"score": 3, "channel": "web_form"}, "body.service_area"),
        ({"score": 3, "channel": "web_form", "service_area": "moon"}, "body.service_area"),
        ({"score": 3, "enquiry_id": "7d0e3a4c-1f2b-4c3d-8e9f-0a1b2c3d4e5f"}, "body.enquiry_id"),
    ]:
        response = await telephony.post("/v1/feedback", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field
