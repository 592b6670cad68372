"""The standby contractor's batches over real HTTP: JSON and CSV, mixed good and bad, repeated."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from contact_common.events import CloudEvent
from contact_devtools.testing import EventTap

CSV_HEADER = (
    "record_id,call_started_at,answered_at,ended_at,category,service_area,action_taken,"
    "requires_follow_up,caller_phone,notes\n"
)


def record(record_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "record_id": record_id,
        "call_started_at": "2026-03-07T22:15:00+00:00",
        "answered_at": "2026-03-07T22:15:20+00:00",
        "ended_at": "2026-03-07T22:21:00+00:00",
        "category": "housing_repair",
        "service_area": "housing",
        "action_taken": "Emergency plumber sent",
        "requires_follow_up": False,
    }
    body.update(fields)
    return body


def of(subject: str, events: list[CloudEvent]) -> list[CloudEvent]:
    return [e for e in events if e.subject == subject]


@pytest.fixture
async def contractor(client_for: Callable[..., httpx.AsyncClient]) -> Any:
    async with client_for("standby:write", name="standby-contractor") as client:
        yield client


async def test_a_mixed_json_batch_keeps_the_good_and_explains_the_bad(
    contractor: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    event_tap: Callable[[str], EventTap],
) -> None:
    batch = [
        record("SB-1"),
        record(
            "SB-2",
            requires_follow_up=True,
            caller_phone="+44 7700 900456",
            notes="Grace Hopper, leak under the sink at 3 Cobol Close",
        ),
        record("SB-3", service_area="moon"),
        record("SB-4", answered_at="2026-03-07T22:00:00+00:00"),
        {"record_id": "SB-5"},
        "not a record",
        record("SB-1"),  # repeated within the batch
        record("SB-6", call_started_at="2026-03-07T22:15:00"),
    ]
    async with event_tap("contact.events") as tap:
        response = await contractor.post("/v1/standby/call-records", json=batch)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["received"], body["created"], body["duplicate"], body["rejected"]) == (
            8,
            2,
            1,
            5,
        )
        results = body["results"]
        assert [(r["index"], r["record_id"], r["status"]) for r in results] == [
            (0, "SB-1", "created"),
            (1, "SB-2", "created"),
            (2, "SB-3", "rejected"),
            (3, "SB-4", "rejected"),
            (4, "SB-5", "rejected"),
            (5, None, "rejected"),
            (6, "SB-1", "duplicate"),
            (7, "SB-6", "rejected"),
        ]
        assert results[0]["enquiry_id"] is None
        follow_up = results[1]["enquiry_id"]
        assert follow_up is not None
        assert results[2]["errors"][0]["field"] == "service_area"
        assert "answered_at is before call_started_at" in results[3]["errors"][0]["message"]
        assert {e["field"] for e in results[4]["errors"]} >= {"call_started_at", "service_area"}
        assert results[7]["errors"][0]["field"] == "call_started_at"
        events = await tap.wait_for(
            lambda es: (
                len(of(follow_up, es)) >= 2
                and sum(1 for e in es if e.type.startswith("call.") and e.data.channel == "standby")
                >= 4
            )
        )

    calls = [e for e in events if e.type.startswith("call.") and e.data.channel == "standby"]
    assert sorted(e.type for e in calls) == [
        "call.answered",
        "call.answered",
        "call.offered",
        "call.offered",
    ]
    answered = [e for e in calls if e.type == "call.answered"]
    assert {e.data.wait_seconds for e in answered} == {20.0}  # type: ignore[attr-defined]
    assert {e.time.isoformat() for e in answered} == {"2026-03-07T22:15:20+00:00"}
    assert [e.type for e in of(follow_up, events)] == ["enquiry.opened", "enquiry.assigned"]
    opened, assigned = of(follow_up, events)
    assert opened.data.channel == "standby"  # type: ignore[attr-defined]
    assert assigned.data.service_area == "housing"  # type: ignore[attr-defined]
    call_of_follow_up = opened.data.call_id  # type: ignore[attr-defined]
    assert str(call_of_follow_up) in {e.subject for e in calls}
    raw = b"".join(r.value for r in tap.raw)
    for personal in (b"7700 900456", b"7700900456", b"Grace Hopper", b"Cobol Close"):
        assert personal not in raw

    seen = {e.id for e in events}
    enquiry = (await admin.get(f"/v1/enquiries/{follow_up}")).json()
    assert (enquiry["channel"], enquiry["service_area"], enquiry["status"]) == (
        "standby",
        "housing",
        "assigned",
    )
    assert enquiry["received_at"] == "2026-03-07T22:15:00Z"
    assert enquiry["assigned_at"] == "2026-03-07T22:21:00Z"
    assert enquiry["customer"]["phone"] == "+44 7700 900456"
    assert "leak under the sink" in enquiry["description"]
    assert [h["action"] for h in enquiry["history"]] == ["opened", "assigned"]
    assert enquiry["history"][0]["actor_name"] == "standby-contractor"

    # The same batch again, the next morning: nothing new, the same follow-up reported.
    async with event_tap("contact.events") as tap:
        again = await contractor.post("/v1/standby/call-records", json=batch)
        assert again.status_code == 200
        body = again.json()
        assert (body["created"], body["duplicate"], body["rejected"]) == (0, 3, 5)
        assert body["results"][1]["enquiry_id"] == follow_up
        # The corrected records are then accepted.
        fixed = await contractor.post(
            "/v1/standby/call-records",
            json=[record("SB-3", service_area="environmental_health"), record("SB-1")],
        )
        assert [r["status"] for r in fixed.json()["results"]] == ["created", "duplicate"]
        events = await tap.wait_for(
            lambda es: sum(1 for e in es if e.id not in seen and e.type.startswith("call.")) >= 2
        )
    # A tap may re-read the tail of the last batch already published (the bundled broker's
    # end offset), so "new" means events the first tap did not see.
    new = [e for e in events if e.id not in seen]
    assert [e.type for e in new if e.type.startswith("enquiry.")] == []
    assert sorted(e.type for e in new) == ["call.answered", "call.offered"]
    standby_enquiries = await admin.get("/v1/enquiries", params={"channel": "standby"})
    assert [e["id"] for e in standby_enquiries.json()["items"]] == [follow_up]


async def test_a_mixed_csv_batch_answers_line_by_line(
    contractor: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    csv_text = CSV_HEADER + (
        "CSV-1,2026-03-07T23:00:00+00:00,2026-03-07T23:00:05+00:00,2026-03-07T23:10:00+00:00,"
        "noise,environmental_health,Advised the caller,no,,\n"
        "CSV-2,2026-03-08T01:00:00+00:00,2026-03-08T01:00:30+00:00,2026-03-08T01:05:00+00:00,"
        'homeless,housing,"Placed in B&B, needs casework",yes,07700 900789,"Family of 3, room 12"\n'
        "CSV-3,yesterday,2026-03-08T01:00:30+00:00,2026-03-08T01:05:00+00:00,"
        "noise,environmental_health,Advised,no,,\n"
        "CSV-4,2026-03-08T02:00:00+00:00,2026-03-08T02:00:10+00:00,2026-03-08T02:04:00+00:00,"
        "noise,environmental_health,Advised,perhaps,,\n"
    )
    response = await contractor.post(
        "/v1/standby/call-records",
        content=csv_text.encode(),
        headers={"content-type": "text/csv; charset=utf-8"},
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["line"], r["record_id"], r["status"]) for r in results] == [
        (2, "CSV-1", "created"),
        (3, "CSV-2", "created"),
        (4, "CSV-3", "rejected"),
        (5, "CSV-4", "rejected"),
    ]
    assert results[2]["errors"][0]["field"] == "call_started_at"
    assert results[3]["errors"][0]["field"] == "requires_follow_up"
    follow_up = results[1]["enquiry_id"]
    enquiry = (await admin.get(f"/v1/enquiries/{follow_up}")).json()
    assert enquiry["service_area"] == "housing"
    assert "Placed in B&B, needs casework" in enquiry["description"]

    again = await contractor.post(
        "/v1/standby/call-records", content=csv_text.encode(), headers={"content-type": "text/csv"}
    )
    assert [r["status"] for r in again.json()["results"]] == [
        "duplicate",
        "duplicate",
        "rejected",
        "rejected",
    ]
    assert again.json()["results"][1]["enquiry_id"] == follow_up


async def test_record_ids_belong_to_their_contractor(
    client_for: Callable[..., httpx.AsyncClient],
) -> None:
    async with (
        client_for("standby:write", name="contractor-a") as first,
        client_for("standby:write", name="contractor-b") as second,
    ):
        a = await first.post("/v1/standby/call-records", json=[record("R-1")])
        b = await second.post("/v1/standby/call-records", json=[record("R-1")])
    assert a.json()["results"][0]["status"] == "created"
    assert b.json()["results"][0]["status"] == "created"


async def test_whole_batch_problems(contractor: httpx.AsyncClient) -> None:
    not_a_list = await contractor.post("/v1/standby/call-records", json=record("X"))
    assert not_a_list.status_code == 422
    assert not_a_list.headers["content-type"] == "application/problem+json"
    assert "JSON list" in not_a_list.json()["detail"]

    broken = await contractor.post(
        "/v1/standby/call-records", content=b"[{", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422

    no_columns = await contractor.post(
        "/v1/standby/call-records",
        content=b"record_id,when\nA,now\n",
        headers={"content-type": "text/csv"},
    )
    assert no_columns.status_code == 422
    assert "lacks the columns" in no_columns.json()["detail"]

    not_utf8 = await contractor.post(
        "/v1/standby/call-records",
        content=CSV_HEADER.encode() + b"\xff\xfe\n",
        headers={"content-type": "text/csv"},
    )
    assert not_utf8.status_code == 422

    xml = await contractor.post(
        "/v1/standby/call-records", content=b"<records/>", headers={"content-type": "text/xml"}
    )
    assert xml.status_code == 415
    assert xml.headers["content-type"] == "application/problem+json"

    too_many = await contractor.post("/v1/standby/call-records", json=[{}] * 5001)
    assert too_many.status_code == 413
    assert too_many.json()["max_records"] == 5000

    empty = await contractor.post("/v1/standby/call-records", json=[])
    assert empty.status_code == 200
    assert empty.json()["received"] == 0


async def test_only_standby_and_admin_keys_may_post_records(
    client_for: Callable[..., httpx.AsyncClient], admin: httpx.AsyncClient
) -> None:
    async with (
        client_for("enquiries:write") as writer,
        client_for("contacts:write") as telephony,
    ):
        for client in (writer, telephony):
            response = await client.post("/v1/standby/call-records", json=[record("Z")])
            assert response.status_code == 403
    assert (await admin.post("/v1/standby/call-records", json=[record("Z")])).status_code == 200


async def test_a_full_batch_of_follow_ups_opens_every_enquiry(
    contractor: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    # 1,000 follow-up enquiries with their history and outbox rows are far more than the 32,767
    # parameters PostgreSQL takes in one statement: the batch must still open every one.
    batch = [
        record(f"FU-{i}", requires_follow_up=True, caller_phone="+44 7700 900456")
        for i in range(1000)
    ]
    response = await contractor.post("/v1/standby/call-records", json=batch)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["created"] == 1000, body["results"][:3]
    opened = {r["enquiry_id"] for r in body["results"]}
    assert None not in opened and len(opened) == 1000
    last = await admin.get(f"/v1/enquiries/{body['results'][-1]['enquiry_id']}")
    assert last.status_code == 200, last.text
    assert last.json()["reference"].startswith("ENQ-")
