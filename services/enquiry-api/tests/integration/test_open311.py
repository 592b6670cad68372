"""Open311 GeoReport v2 with an Open311 client this project did not write (georeport).

georeport reads (services, definitions, requests) but cannot create requests, so a request is
created as FixMyStreet and other Open311 clients send it: a form-encoded POST with `api_key`
(with `requests`, the HTTP library georeport itself uses), and read back with georeport.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
import xmltodict
from georeport import GeoReport

from contact_common.testing import LiveServer


def post_request(base: str, fmt: str, form: dict[str, str]) -> requests.Response:
    return requests.post(f"{base}/requests.{fmt}", data=form, timeout=30)


@pytest.fixture
def open311(enquiry_api: LiveServer) -> str:
    return enquiry_api.url + "/open311/v2"


@pytest.fixture
def fixmystreet_key(issue_api_key: Callable[..., str]) -> str:
    return issue_api_key("enquiries:write", name="fixmystreet")


@pytest.mark.parametrize("fmt", ["xml", "json"])
async def test_a_request_is_created_and_read_back_with_georeport(
    fmt: str, open311: str, fixmystreet_key: str, admin: httpx.AsyncClient
) -> None:
    client = GeoReport(open311, jurisdiction="council.example", output_format=fmt)
    services = await asyncio.to_thread(client.get_service_list)
    codes = {s["service_code"] for s in services}
    assert {"missed_bin", "fly_tipping", "other"} <= codes
    definition = await asyncio.to_thread(client.get_service_definition, "fly_tipping")
    assert definition["service_code"] == "fly_tipping"

    form = {
        "api_key": fixmystreet_key,
        "jurisdiction_id": "council.example",
        "service_code": "fly_tipping",
        "lat": "51.5072",
        "long": "-0.1276",
        "address_string": "Back lane behind the library",
        "description": "A mattress and three bin bags",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada.lovelace@example.org",
        "phone": "07700 900123",
        "attribute[waste_type]": "household",
        "attribute[fixmystreet_id]": "4242",
        "media_url": "https://fixmystreet.example/photo/4242.jpeg",
    }
    response = await asyncio.to_thread(post_request, open311, fmt, form)
    assert response.status_code == 200, response.text
    if fmt == "json":
        created = response.json()[0]
    else:
        created = xmltodict.parse(response.content)["service_requests"]["request"]
    reference = created["service_request_id"]
    assert reference.startswith("ENQ-2026-")

    read = await asyncio.to_thread(client.get_service_request, reference)
    assert read["service_request_id"] == reference
    assert read["status"] == "open"
    assert read["service_code"] == "fly_tipping"
    assert read["service_name"] == "Fly-tipping"
    assert read["description"] == "A mattress and three bin bags"
    assert read["address"] == "Back lane behind the library"
    assert float(read["lat"]) == 51.5072
    assert read["agency_responsible"] == "environmental_health"
    assert read["media_url"] == "https://fixmystreet.example/photo/4242.jpeg"
    for personal in ("Lovelace", "ada.lovelace", "900123"):
        assert personal not in str(read)

    listed = await asyncio.to_thread(client.get_service_requests, service_code="fly_tipping")
    listed_ids = (
        [listed["service_request_id"]]
        if isinstance(listed, dict)
        else [r["service_request_id"] for r in listed]
    )
    assert reference in listed_ids
    # (georeport cannot read an empty XML list, so an empty answer is read directly.)
    async with httpx.AsyncClient(base_url=open311) as raw:
        closed = await raw.get(f"/requests.{fmt}", params={"status": "closed"})
    assert closed.status_code == 200
    assert reference not in closed.text

    # An Open311 request is an enquiry like any other: channel web_form.
    page = (await admin.get("/v1/enquiries", params={"channel": "web_form"})).json()
    (enquiry,) = [e for e in page["items"] if e["reference"] == reference]
    assert enquiry["source"] == "open311"
    assert enquiry["customer"]["name"] == "Ada Lovelace"
    assert enquiry["service_area"] == "environmental_health"
    token = created["token"]
    assert token == enquiry["id"]
    async with httpx.AsyncClient(base_url=open311) as raw:
        by_token = await raw.get(f"/tokens/{token}.json")
    assert by_token.json() == [{"service_request_id": reference, "token": token}]


async def test_status_updates_reach_fixmystreet(
    open311: str, fixmystreet_key: str, admin: httpx.AsyncClient
) -> None:
    form = {
        "api_key": fixmystreet_key,
        "service_code": "missed_bin",
        "address_string": "1 High Street",
        "attribute[bin_type]": "recycling",
    }
    created = await asyncio.to_thread(post_request, open311, "xml", form)
    reference = xmltodict.parse(created.content)["service_requests"]["request"][
        "service_request_id"
    ]
    page = (await admin.get("/v1/enquiries", params={"channel": "web_form"})).json()
    (enquiry,) = [e for e in page["items"] if e["reference"] == reference]
    for step in ("acknowledge", "assign", "resolve"):
        assert (
            await admin.post(f"/v1/enquiries/{enquiry['id']}/{step}", json={})
        ).status_code == 200

    async with httpx.AsyncClient(base_url=open311) as client:
        response = await client.get(
            "/servicerequestupdates.xml",
            params={
                "start_date": "2026-01-01T00:00:00Z",
                "end_date": "2099-01-01T00:00:00Z",
                "api_key": fixmystreet_key,
                "jurisdiction_id": "council.example",
            },
        )
        assert response.status_code == 400  # more than 90 days
        response = await client.get("/servicerequestupdates.xml")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/xml")
        updates = xmltodict.parse(response.content)["service_requests_updates"]["request_update"]
        assert [(u["service_request_id"], u["status"]) for u in updates] == [
            (reference, "investigating"),
            (reference, "in_progress"),
            (reference, "fixed"),
        ]
        assert all(u["update_id"] and u["updated_datetime"].endswith("Z") for u in updates)
        as_json = (await client.get("/servicerequestupdates.json")).json()
        assert [u["status"] for u in as_json] == ["investigating", "in_progress", "fixed"]
        request = (await client.get(f"/requests/{reference}.json")).json()[0]
        assert request["status"] == "closed"


@pytest.mark.parametrize("fmt", ["xml", "json"])
async def test_errors_come_in_the_spec_format(
    fmt: str, open311: str, fixmystreet_key: str, issue_api_key: Callable[..., str]
) -> None:
    def errors(response: requests.Response | httpx.Response) -> list[dict[str, Any]]:
        if fmt == "json":
            assert response.headers["content-type"] == "application/json"
            return response.json()
        assert response.headers["content-type"].startswith("text/xml")
        error = xmltodict.parse(response.content)["errors"]["error"]
        return [{"code": int(error["code"]), "description": error["description"]}]

    reader_key = issue_api_key("enquiries:read")
    base = {
        "service_code": "missed_bin",
        "lat": "51.5",
        "long": "-0.1",
        "attribute[bin_type]": "food",
    }
    cases: list[tuple[dict[str, str], int, str]] = [
        (base, 403, "api_key is missing"),
        ({**base, "api_key": "cc_nope_nope"}, 403, "not valid"),
        ({**base, "api_key": reader_key}, 403, "may not create"),
        ({**base, "api_key": fixmystreet_key, "service_code": "potholes"}, 404, "not found"),
        (
            {**base, "api_key": fixmystreet_key, "attribute[bin_type]": "piano"},
            400,
            "attribute[bin_type] must be one of",
        ),
        ({"api_key": fixmystreet_key, "service_code": "missed_bin"}, 400, "location is required"),
    ]
    for form, code, text in cases:
        response = await asyncio.to_thread(post_request, open311, fmt, form)
        assert response.status_code == code, response.text
        (error,) = errors(response)
        assert error["code"] == code
        assert text in error["description"]

    async with httpx.AsyncClient(base_url=open311) as client:
        for path, code in [
            (f"/requests/ENQ-2026-999999.{fmt}", 404),
            (f"/services/potholes.{fmt}", 404),
            (f"/tokens/unknown.{fmt}", 404),
            (f"/requests.{fmt}?start_date=yesterday", 400),
            (f"/requests.{fmt}?status=lost", 400),
        ]:
            response = await client.get(path)
            assert response.status_code == code, (path, response.text)
            assert errors(response)[0]["code"] == code
        not_form = await client.post(
            f"/requests.{fmt}", content=b'{"a": 1}', headers={"content-type": "application/json"}
        )
        assert not_form.status_code == 403  # no api_key in a body that is not a form


async def test_discovery_and_service_definitions(open311: str) -> None:
    async with httpx.AsyncClient(base_url=open311) as client:
        discovery = (await client.get("/discovery.json")).json()
        (endpoint,) = discovery["endpoints"]
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert endpoint["url"].endswith("/open311/v2")
        assert endpoint["formats"] == ["text/xml", "application/json"]
        xml = xmltodict.parse((await client.get("/discovery.xml")).content)
        assert xml["discovery"]["endpoints"]["endpoint"]["type"] == "production"

        services = xmltodict.parse((await client.get("/services.xml")).content)
        metadata = {s["service_code"]: s["metadata"] for s in services["services"]["service"]}
        assert metadata["missed_bin"] == "true" and metadata["other"] == "false"
        definition = (await client.get("/services/missed_bin.json")).json()
        (bin_type,) = definition["attributes"]
        assert bin_type["code"] == "bin_type"
        assert bin_type["required"] is True
        assert bin_type["datatype"] == "singlevaluelist"
        assert {v["key"] for v in bin_type["values"]} == {"general", "recycling", "garden", "food"}
        unknown_format = await client.get("/services.csv")
        assert unknown_format.status_code == 400
