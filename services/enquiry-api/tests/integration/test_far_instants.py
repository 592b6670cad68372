"""Instants near year 1 or 9999 are bad input, never a 500 (found by fuzzing, issue 7).

They overflowed when moved to UTC or to the council's zone; the platform takes 1970 to 2099.
"""

from __future__ import annotations

import httpx

from .conftest import enquiry_body

YEAR_ONE_EAST = "0001-01-01T00:00:00+14:00"
YEAR_9999_WEST = "9999-12-31T23:59:59-12:00"


def assert_names(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    error = response.json()["errors"][0]
    assert error["field"] == field
    assert "1970-01-01 to 2099-12-31" in error["message"]


async def test_far_instants_are_refused_naming_the_field(admin: httpx.AsyncClient) -> None:
    for received_at in (YEAR_ONE_EAST, "0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z"):
        response = await admin.post("/v1/enquiries", json=enquiry_body(received_at=received_at))
        assert_names(response, "body.received_at")
    listing = await admin.get("/v1/enquiries", params={"received_from": YEAR_9999_WEST})
    assert_names(listing, "query.received_from")
    visit = await admin.post("/v1/visits", json={"visit_id": "v-far", "arrived_at": YEAR_9999_WEST})
    assert_names(visit, "body.arrived_at")

    open311 = await admin.get(
        "/open311/v2/servicerequestupdates.json", params={"start_date": YEAR_ONE_EAST}
    )
    assert open311.status_code == 400, open311.text
    assert "start_date must be from 1970-01-01" in open311.json()[0]["description"]

    # The edges themselves are fine.
    first = await admin.post("/v1/enquiries", json=enquiry_body(received_at="1970-01-01T00:00:00Z"))
    assert first.status_code == 201, first.text
