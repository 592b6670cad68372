"""Listing with filters and cursor pagination; erasing a customer while keeping the statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .conftest import Api

BASE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _list(api: Api, **params: object) -> dict:
    response = await api.client.get("/v1/complaints", params=params, headers=api.writer)
    assert response.status_code == 200, response.text
    return response.json()


async def test_list_filters_and_pages(api: Api) -> None:
    ids = []
    for day in range(7):
        area = "waste" if day % 2 == 0 else "parking"
        created = await api.create(
            received_at=(BASE + timedelta(days=day)).isoformat(), service_area=area
        )
        ids.append(created["id"])
    # Two answered at stage 1 (one upheld, one not), one taken on to stage 2.
    for cid, outcome in [(ids[0], "upheld"), (ids[1], "not_upheld"), (ids[2], "not_upheld")]:
        await api.ok(cid, "acknowledge", officer="officer-a")
        await api.ok(cid, "respond", officer="officer-a", outcome=outcome, summary="Done")
    await api.ok(ids[2], "escalate", reason="Disagree")

    everything = await _list(api)
    assert [c["id"] for c in everything["items"]] == list(reversed(ids))
    assert everything["next_cursor"] is None
    assert set(everything["items"][0]) >= {"id", "reference", "status", "stage", "due_at"}
    assert "customer" not in everything["items"][0]

    pages, cursor = [], None
    while True:
        page = await _list(api, limit=3, **({"cursor": cursor} if cursor else {}))
        pages.append([c["id"] for c in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [cid for page in pages for cid in page] == list(reversed(ids))

    assert [c["id"] for c in (await _list(api, service_area="parking"))["items"]] == [
        ids[5],
        ids[3],
        ids[1],
    ]
    assert [c["id"] for c in (await _list(api, outcome="upheld"))["items"]] == [ids[0]]
    assert [c["id"] for c in (await _list(api, stage="stage_2"))["items"]] == [ids[2]]
    assert [c["id"] for c in (await _list(api, status="responded"))["items"]] == [ids[1], ids[0]]
    window = await _list(
        api,
        received_from=(BASE + timedelta(days=2)).isoformat(),
        received_to=(BASE + timedelta(days=4)).isoformat(),
    )
    assert [c["id"] for c in window["items"]] == [ids[3], ids[2]]
    combined = await _list(api, service_area="waste", status="received", stage="stage_1")
    assert [c["id"] for c in combined["items"]] == [ids[6], ids[4]]


async def test_bad_list_queries_are_refused_naming_the_parameter(api: Api) -> None:
    for params, field in [
        ({"limit": 201}, "query.limit"),
        ({"limit": 0}, "query.limit"),
        ({"cursor": "not-a-cursor"}, "query.cursor"),
        ({"stage": "stage_9"}, "query.stage"),
        ({"service_area": "spaceport"}, "query.service_area"),
        ({"received_from": "2026-03-02T09:00:00"}, "query.received_from"),
        (
            {"received_from": "2026-03-05T00:00:00Z", "received_to": "2026-03-01T00:00:00Z"},
            "query.received_from",
        ),
    ]:
        response = await api.client.get("/v1/complaints", params=params, headers=api.writer)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]], params


async def test_erasure_removes_the_person_and_keeps_the_statistics(api: Api) -> None:
    created = await api.create(
        description="The officer at the tip was rude to me, Jan Kowalski.",
        customer={
            "name": "Jan Kowalski",
            "email": "jan.k@example.net",
            "phone": "07700 900123",
            "address": "3 Mill Row",
            "uprn": "1000123",
        },
    )
    cid = created["id"]
    await api.ok(cid, "acknowledge", officer="officer-a")
    await api.ok(cid, "extend", working_days=3, reason="Jan is away until Friday")
    await api.ok(cid, "respond", officer="officer-a", outcome="partly_upheld", summary="Dear Jan")
    await api.ok(cid, "escalate", reason="Jan wants a manager")

    response = await api.client.post(f"/v1/complaints/{cid}/erase", headers=api.eraser)
    assert response.status_code == 200, response.text
    erased = response.json()
    assert erased["customer"] is None and erased["description"] is None
    assert erased["erased_at"] is not None
    assert "Jan" not in response.text and "Kowalski" not in response.text
    # The facts the statistics need are untouched.
    assert (erased["stage"], erased["status"], erased["outcome"]) == (
        "stage_2",
        "received",
        "partly_upheld",
    )
    assert erased["reference"] == created["reference"]
    assert erased["stages"][0]["extension_working_days"] == 3
    assert [h["action"] for h in erased["history"]][-1] == "erased"
    assert erased["history"][-1]["recorded_by"] == "dpo"

    again = await api.client.post(f"/v1/complaints/{cid}/erase", headers=api.eraser)
    assert again.status_code == 200
    assert [h["action"] for h in again.json()["history"]].count("erased") == 1

    # The procedure goes on after erasure.
    await api.ok(cid, "acknowledge", officer="officer-b")
    assert [c["id"] for c in (await _list(api, outcome="partly_upheld"))["items"]] == [cid]
