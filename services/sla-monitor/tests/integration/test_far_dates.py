"""Days near year 1 or 9999 are bad input, never a 500 (found by fuzzing, issue 7).

`to=9999-12-31` overflowed when the day after it was taken to make the range inclusive; the
platform takes days from 1970 to 2099.
"""

from __future__ import annotations

import httpx


def assert_names(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    error = response.json()["errors"][0]
    assert error["field"] == field
    assert "1970-01-01 to 2099-12-31" in error["message"]


async def test_far_days_are_refused_naming_the_field(sla_monitor) -> None:
    async with sla_monitor() as (_, client):
        assert_names(await client.get("/v1/breaches", params={"to": "9999-12-31"}), "query.to")
        assert_names(await client.get("/v1/breaches", params={"from": "0001-01-01"}), "query.from")
        assert_names(
            await client.get(
                "/v1/calendar/working-days", params={"from": "9999-12-30", "to": "9999-12-31"}
            ),
            "query.from",
        )
        edges = await client.get("/v1/breaches", params={"from": "1970-01-01", "to": "2099-12-31"})
        assert edges.status_code == 200, edges.text
