"""Bad questions get a problem document naming the field; no key, no figures."""

from __future__ import annotations

import httpx


async def test_problems_name_the_field_and_keys_are_required(metrics) -> None:
    async def problem(path: str, **params: str) -> dict:
        response = await metrics.client.get(path, params=params)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        return response.json()

    body = await problem("/v1/scorecard", period="2026-28")
    assert body["errors"][0]["field"] == "query.period"
    assert "2026-27" in body["errors"][0]["message"]
    assert (await problem("/v1/kpis", period="2026-27-Q5"))["errors"][0]["field"] == "query.period"
    assert (await problem("/v1/channels", **{"from": "2026-04-01"}))["errors"][0][
        "field"
    ] == "query.to"
    assert (await problem("/v1/channels", to="2026-04-01"))["errors"][0]["field"] == "query.from"
    reversed_range = await problem(
        "/v1/sla/compliance", **{"from": "2026-05-01", "to": "2026-04-01"}
    )
    assert reversed_range["errors"][0]["field"] == "query.to"
    both = await problem(
        "/v1/scorecard", period="2026-27", **{"from": "2026-04-01", "to": "2026-04-02"}
    )
    assert both["errors"][0]["field"] == "query.period"
    assert (await problem("/v1/kpis", by="queue"))["errors"][0]["field"] == "query.by"
    assert (await problem("/v1/breaches", format="xml"))["errors"][0]["field"] == "query.format"
    assert (await problem("/v1/calls/wait-times", channel="email"))["errors"][0][
        "field"
    ] == "query.channel"
    assert (await problem("/v1/scorecard", service_area="Council Tax"))["errors"][0][
        "field"
    ] == "query.service_area"

    async with httpx.AsyncClient(base_url=metrics.url) as anonymous:
        for path in (
            "/v1/scorecard",
            "/v1/kpis",
            "/v1/sla/compliance",
            "/v1/calls/wait-times",
            "/v1/channels",
            "/v1/breaches",
        ):
            response = await anonymous.get(path)
            assert response.status_code == 401, path
            assert response.headers["content-type"] == "application/problem+json"

    # Every table as CSV, and the default period: the financial year in progress.
    for path in (
        "/v1/scorecard",
        "/v1/kpis",
        "/v1/sla/compliance",
        "/v1/calls/wait-times",
        "/v1/channels",
        "/v1/breaches",
    ):
        response = await metrics.client.get(path, params={"format": "csv"})
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert "attachment" in response.headers["content-disposition"]
    card = await metrics.get("/v1/scorecard")
    assert card["period"]["kind"] == "financial_year"

    openapi = (await metrics.client.get("/openapi.json")).json()
    for path in (
        "/v1/scorecard",
        "/v1/kpis",
        "/v1/sla/compliance",
        "/v1/calls/wait-times",
        "/v1/channels",
        "/v1/breaches",
    ):
        operation = openapi["paths"][path]["get"]
        assert operation["summary"] and operation["description"]
        assert "text/csv" in operation["responses"]["200"]["content"]
        assert {"401", "403", "422"} <= set(operation["responses"])
