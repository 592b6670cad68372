"""Illegal transitions and bad input: refused with a problem that says what is allowed next."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from .conftest import Api


def in_minutes(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


async def assert_refused(
    api: Api, cid: str, action: str, body: dict, *, says: str, allowed: list[str], status: str
) -> None:
    response = await api.step(cid, action, **body)
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 409
    assert problem["type"].endswith("/illegal-transition")
    assert says in problem["detail"]
    assert f"and {status}" in problem["detail"]
    assert "Allowed next: " + (", ".join(allowed) or "nothing") in problem["detail"]
    assert problem["allowed_next"] == allowed
    assert problem["complaint_status"] == status


RESPOND = {"officer": "officer-a", "outcome": "upheld", "summary": "Sorry"}


async def test_each_illegal_transition_is_explained(api: Api) -> None:
    cid = (await api.create())["id"]
    received = ["acknowledge", "extend"]
    await assert_refused(
        api,
        cid,
        "respond",
        RESPOND,
        says="acknowledge it first",
        allowed=received,
        status="received",
    )
    await assert_refused(
        api,
        cid,
        "escalate",
        {"reason": "Unhappy"},
        says="there is none yet",
        allowed=received,
        status="received",
    )
    await assert_refused(
        api,
        cid,
        "close",
        {"officer": "officer-a"},
        says="closed after the council's response",
        allowed=received,
        status="received",
    )
    await assert_refused(
        api,
        cid,
        "ombudsman-decision",
        {"outcome": "upheld", "decided_at": datetime.now(UTC).isoformat()},
        says="decides only a complaint referred to it",
        allowed=received,
        status="received",
    )

    await api.ok(cid, "acknowledge", officer="officer-a")
    acknowledged = ["respond", "extend"]
    await assert_refused(
        api,
        cid,
        "acknowledge",
        {"officer": "officer-a"},
        says="already been acknowledged",
        allowed=acknowledged,
        status="acknowledged",
    )
    await assert_refused(
        api,
        cid,
        "escalate",
        {"reason": "Unhappy"},
        says="escalation follows the council's response",
        allowed=acknowledged,
        status="acknowledged",
    )

    await api.ok(cid, "respond", **RESPOND)
    responded = ["escalate", "close"]
    await assert_refused(
        api,
        cid,
        "respond",
        RESPOND,
        says="already responded",
        allowed=responded,
        status="responded",
    )
    await assert_refused(
        api,
        cid,
        "extend",
        {"working_days": 3, "reason": "More time"},
        says="cannot be extended after its response",
        allowed=responded,
        status="responded",
    )

    await api.ok(cid, "close", officer="officer-a")
    await assert_refused(
        api,
        cid,
        "close",
        {"officer": "officer-a"},
        says="it is already closed",
        allowed=["escalate"],
        status="closed",
    )
    await assert_refused(
        api,
        cid,
        "acknowledge",
        {"officer": "officer-a"},
        says="only the customer's escalation can reopen it",
        allowed=["escalate"],
        status="closed",
    )

    # Nothing refused changed anything: the history holds only what was allowed.
    detail = await api.get(cid)
    assert [h["action"] for h in detail["history"]] == [
        "received",
        "acknowledged",
        "responded",
        "closed",
    ]


async def test_times_that_cannot_be_right_are_refused_naming_the_field(api: Api) -> None:
    future = await api.client.post(
        "/v1/complaints",
        json={
            "received_at": in_minutes(60),
            "channel": "phone",
            "description": "Noise",
        },
        headers=api.writer,
    )
    assert future.status_code == 422
    assert future.json()["errors"] == [
        {"field": "body.received_at", "message": future.json()["errors"][0]["message"]}
    ]
    assert "in the future" in future.json()["detail"]

    # Found by fuzzing (issue 7): instants near year 1 or 9999 overflowed in the council's time
    # zone or in UTC, a 500; the platform takes 1970 to 2099.
    for received_at in ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "1969-12-31T23:59Z"):
        far = await api.client.post(
            "/v1/complaints",
            json={"received_at": received_at, "channel": "email", "description": "0"},
            headers=api.writer,
        )
        assert far.status_code == 422, far.text
        assert far.headers["content-type"] == "application/problem+json"
        assert far.json()["errors"][0]["field"] == "body.received_at"
        assert "1970-01-01 to 2099-12-31" in far.json()["errors"][0]["message"]
    far_filter = await api.client.get(
        "/v1/complaints",
        params={"received_from": "9999-12-31T23:59:59-12:00"},
        headers=api.writer,
    )
    assert far_filter.status_code == 422, far_filter.text
    assert far_filter.json()["errors"][0]["field"] == "query.received_from"

    naive = await api.client.post(
        "/v1/complaints",
        json={"received_at": "2026-03-02T10:00:00", "channel": "phone", "description": "Noise"},
        headers=api.writer,
    )
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["field"] == "body.received_at"

    created = await api.create()
    cid = created["id"]
    assert created["service_area"] == "waste"
    before = await api.step(
        cid,
        "acknowledge",
        officer="officer-a",
        at=(datetime.fromisoformat(created["received_at"]) - timedelta(hours=1)).isoformat(),
    )
    assert before.status_code == 422
    assert before.json()["errors"][0]["field"] == "body.at"
    assert "before the complaint's receipt" in before.json()["detail"]

    ahead = await api.step(cid, "acknowledge", officer="officer-a", at=in_minutes(30))
    assert ahead.status_code == 422
    assert "in the future" in ahead.json()["detail"]
    # A clock a minute fast is within the skew.
    await api.ok(cid, "acknowledge", officer="officer-a", at=in_minutes(1))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "pigeon"}, "body.channel"),
        ({"service_area": "spaceport"}, "body.service_area"),
        ({"description": ""}, "body.description"),
        ({"description": "nul \u0000 byte"}, "body.description"),
        ({"customer": {"email": "not an email"}}, "body.customer.email"),
        ({"customer": {"email": "a\u0000b@example.org"}}, "body.customer.email"),
        ({"customer": {"name": "lone \ud800 surrogate"}}, "body.customer.name"),
        ({"customer": {"uprn": "12AB"}}, "body.customer.uprn"),
        ({"enquiry_id": "nope"}, "body.enquiry_id"),
        ({"recieved_at": "2026-03-02T10:00:00Z"}, "body.recieved_at"),
    ],
)
async def test_bad_complaints_are_refused_naming_the_field(
    api: Api, body: dict, field: str
) -> None:
    complete = {
        "received_at": datetime.now(UTC).isoformat(),
        "channel": "email",
        "description": "Noise from the depot at night",
    }
    # json.dumps escapes to ASCII, as a client may: `\ud800` reaches the server as JSON text.
    response = await api.client.post(
        "/v1/complaints",
        content=json.dumps({**complete, **body}),
        headers={**api.writer, "content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]
    if field == "body.service_area":
        assert "council_tax" in response.json()["detail"]


async def test_unknown_complaints_and_missing_keys(api: Api, issue_api_key) -> None:  # type: ignore[no-untyped-def]
    missing = uuid.uuid4()
    not_found = await api.client.get(f"/v1/complaints/{missing}", headers=api.writer)
    assert not_found.status_code == 404
    assert str(missing) in not_found.json()["detail"]
    step = await api.step(str(missing), "acknowledge", officer="officer-a")
    assert step.status_code == 404
    bad_id = await api.client.get("/v1/complaints/CMP-2026-1", headers=api.writer)
    assert bad_id.status_code == 422

    anonymous = await api.client.get("/v1/complaints")
    assert anonymous.status_code == 401
    reader = {"Authorization": f"Bearer {issue_api_key('complaints:read')}"}
    assert (await api.client.get("/v1/complaints", headers=reader)).status_code == 200
    cid = (await api.create())["id"]
    forbidden = await api.client.post(
        f"/v1/complaints/{cid}/acknowledge", json={"officer": "x"}, headers=reader
    )
    assert forbidden.status_code == 403
    assert "complaints:write" in forbidden.json()["detail"]
    erase_without_scope = await api.client.post(f"/v1/complaints/{cid}/erase", headers=api.writer)
    assert erase_without_scope.status_code == 403
    assert "customers:erase" in erase_without_scope.json()["detail"]
