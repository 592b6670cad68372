"""What the OpenAPI document promises is what the service sends (found by fuzzing, issue 7)."""

from __future__ import annotations

import httpx


async def test_dashboard_assets_are_documented_with_their_own_media_types(metrics) -> None:
    async with httpx.AsyncClient(base_url=metrics.url) as anonymous:
        document = (await anonymous.get("/openapi.json")).json()
        documented = document["paths"]["/dashboard/static/{name}"]["get"]["responses"]["200"]
        for name in ("dashboard.js", "dashboard.css"):
            asset = await anonymous.get(f"/dashboard/static/{name}")
            assert asset.status_code == 200
            media_type = asset.headers["content-type"].split(";")[0]
            # It was documented as application/json, which no client should expect of a script.
            assert media_type in documented["content"], (media_type, documented)


async def test_far_dates_and_years_are_refused_naming_the_field(metrics) -> None:
    # Found by fuzzing (issue 7): these overflowed on the way to the database, a 500.
    for path in ("/v1/kpis", "/v1/breaches", "/v1/scorecard"):
        response = await metrics.client.get(path, params={"from": "9999-12-31", "to": "9999-12-31"})
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == "query.from"
        assert "1970-01-01 to 2099-12-31" in response.json()["errors"][0]["message"]
    for period in ("0000-01", "9999-00", "0001-02", "1970-71", "2099-00"):
        response = await metrics.client.get("/v1/scorecard", params={"period": period})
        assert response.status_code == 422, (period, response.text)
        assert response.json()["errors"][0]["field"] == "query.period"
    assert (
        await metrics.client.get("/v1/scorecard", params={"period": "1971-72"})
    ).status_code == 200
