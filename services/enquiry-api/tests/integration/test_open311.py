"""Open311 GeoReport v2 driven by Open311 client libraries this project did not write.

civicbot creates the requests through its own `Open311Client.create_request`: it builds and
validates the GeoReport v2 form (against the service list and definition) and POSTs it to
`requests.json` or `requests.xml`. georeport reads them back, in JSON and in XML.

civicbot's transport decodes every answer as JSON, so for `requests.xml` the client is given a
transport of ours, a subclass of civicbot's `HttpTransport` that sends the same request through
the library's own `_open` and decodes the XML answer with xmltodict (as georeport does).
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import xmltodict
from civicbot import Endpoint, HttpError, HttpTransport, Open311Client, ValidationError
from civicbot.http import RateLimiter
from georeport import GeoReport

from contact_common.auth import issue_key
from contact_devtools.testing import LiveServer

LONDON = ZoneInfo("Europe/London")

JURISDICTION = "council.example"


class XmlAnswerTransport(HttpTransport):
    """civicbot's transport, reading the XML answer of a POST to `requests.xml`.

    The request is the one `HttpTransport.post_form` makes (form-encoded body, through the
    library's `_open`, with its user agent, rate limiter and HttpError); only the decoding of
    the answer differs: the list of `<request>` elements, like the JSON array.
    """

    def post_form(
        self, url: str, data: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> Any:
        if not url.endswith(".xml"):
            return super().post_form(url, data, headers)
        body = urllib.parse.urlencode(data, doseq=True).encode()
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "text/xml",
                **dict(headers or {}),
            },
        )
        document = xmltodict.parse(self._open(request), force_list=("request",))
        return document["service_requests"]["request"]


def civicbot_client(open311: str, fmt: str) -> Open311Client:
    """civicbot's Open311 client for this service, sending in `fmt`, without its 0.5 s pause."""
    endpoint = Endpoint(
        id="council-example",
        name="The council (enquiry-api under test)",
        base_url=open311,
        write=True,
        api_key_required_for_write=True,
    )
    no_pause = RateLimiter(min_interval=0)
    transport = (
        XmlAnswerTransport(rate_limiter=no_pause)
        if fmt == "xml"
        else HttpTransport(rate_limiter=no_pause)
    )
    return Open311Client(endpoint, transport, jurisdiction_id=JURISDICTION, fmt=fmt)


def send(client: Open311Client, service_code: str, api_key: str, **fields: Any) -> Any:
    """Files a request with civicbot (it is dry-run unless told to send); the service's answer."""
    prepared = client.create_request(
        service_code, dry_run=False, confirm="SEND", api_key=api_key, **fields
    )
    assert prepared.dry_run is False
    assert prepared.url == f"{client.endpoint.base_url}/requests.{client.fmt}"
    return prepared.response


@pytest.fixture
def open311(enquiry_api: LiveServer) -> str:
    return enquiry_api.url + "/open311/v2"


@pytest.fixture
def fixmystreet_key(issue_api_key: Callable[..., str]) -> str:
    return issue_api_key("enquiries:write", name="fixmystreet")


FLY_TIPPING = {
    "lat": 51.5072,
    "lng": -0.1276,
    "address_string": "Back lane behind the library",
    "description": "A mattress and three bin bags",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada.lovelace@example.org",
    "phone": "07700 900123",
    "attributes": {"waste_type": "household", "fixmystreet_id": "4242"},
    "media_url": "https://fixmystreet.example/photo/4242.jpeg",
}


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_a_request_is_created_with_civicbot_and_read_back_with_georeport(
    fmt: str, open311: str, fixmystreet_key: str, admin: httpx.AsyncClient
) -> None:
    readers = {
        out: GeoReport(open311, jurisdiction=JURISDICTION, output_format=out)
        for out in ("json", "xml")
    }
    services = await asyncio.to_thread(readers[fmt].get_service_list)
    assert {"missed_bin", "fly_tipping", "other"} <= {s["service_code"] for s in services}
    definition = await asyncio.to_thread(readers["json"].get_service_definition, "fly_tipping")
    assert definition["service_code"] == "fly_tipping"
    assert [a["code"] for a in definition["attributes"]] == ["waste_type", "quantity"]
    xml_definition = await asyncio.to_thread(readers["xml"].get_service_definition, "fly_tipping")
    xml_attributes = xml_definition["attributes"]["attribute"]
    assert [(a["code"], a["required"]) for a in xml_attributes] == [
        ("waste_type", "true"),
        ("quantity", "false"),
    ]

    client = civicbot_client(open311, fmt)
    if fmt == "json":
        # civicbot checks the form against the live service list and definition itself.
        checks: dict[str, Any] = {"validate_remote": True}
    else:
        # civicbot reads services in JSON only, and georeport's XML definition is xmltodict's
        # raw tree (<attributes><attribute>...), which civicbot's checks cannot walk: the
        # service list read in XML and the definition read in JSON are handed to it.
        checks = {"known_services": services, "definition": definition}

    # The library's own validation is in the loop: a wrong answer is refused before sending.
    with pytest.raises(ValidationError, match="waste_type"):
        await asyncio.to_thread(
            send,
            client,
            "fly_tipping",
            fixmystreet_key,
            **{**FLY_TIPPING, "attributes": {"waste_type": "piano"}},
            **checks,
        )

    # The reference carries the local year the request was received in: today's, whatever the
    # date the suite runs on (both ends of the call, should it straddle New Year).
    years = {datetime.now(LONDON).year}
    (created,) = await asyncio.to_thread(
        send, client, "fly_tipping", fixmystreet_key, **FLY_TIPPING, **checks
    )
    years.add(datetime.now(LONDON).year)
    reference = created["service_request_id"]
    assert any(reference.startswith(f"ENQ-{year}-") for year in years), reference
    assert reference in created["service_notice"]
    token = created["token"]

    # Read back with georeport, in both formats, whichever format created it.
    read = {
        out: await asyncio.to_thread(reader.get_service_request, reference)
        for out, reader in readers.items()
    }
    for out, request in read.items():
        assert request["service_request_id"] == reference, out
        assert request["status"] == "open"
        assert request["service_code"] == "fly_tipping"
        assert request["service_name"] == "Fly-tipping"
        assert request["description"] == "A mattress and three bin bags"
        assert request["address"] == "Back lane behind the library"
        assert float(request["lat"]) == 51.5072
        assert float(request["long"]) == -0.1276
        assert request["agency_responsible"] == "environmental_health"
        assert request["media_url"] == "https://fixmystreet.example/photo/4242.jpeg"
        assert request["requested_datetime"].endswith("Z")
        assert request["token"] == token
        for personal in ("Lovelace", "ada.lovelace", "900123"):
            assert personal not in str(request)
    assert read["json"]["requested_datetime"] == read["xml"]["requested_datetime"]
    assert read["json"]["service_notice"] is None and read["xml"]["service_notice"] is None

    listed = await asyncio.to_thread(readers[fmt].get_service_requests, service_code="fly_tipping")
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
    assert token == enquiry["id"]
    # civicbot reads tokens (in JSON, the only format its reads decode).
    by_token = await asyncio.to_thread(civicbot_client(open311, "json").get_token, token)
    assert by_token == [{"service_request_id": reference, "token": token}]


async def test_status_updates_reach_fixmystreet(
    open311: str, fixmystreet_key: str, admin: httpx.AsyncClient
) -> None:
    (created,) = await asyncio.to_thread(
        send,
        civicbot_client(open311, "xml"),
        "missed_bin",
        fixmystreet_key,
        address_string="1 High Street",
        attributes={"bin_type": "recycling"},
    )
    reference = created["service_request_id"]
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
    def errors(response: httpx.Response) -> list[dict[str, Any]]:
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
    async with httpx.AsyncClient(base_url=open311) as client:
        # Forms no client library would send (civicbot refuses most of them before sending).
        for form, code, text in cases:
            response = await client.post(f"/requests.{fmt}", data=form)
            assert response.status_code == code, response.text
            (error,) = errors(response)
            assert error["code"] == code
            assert text in error["description"]

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

    # What civicbot sees of a refusal: its HttpError, with the error in the spec's format.
    with pytest.raises(HttpError) as refused:
        await asyncio.to_thread(
            send,
            civicbot_client(open311, fmt),
            "missed_bin",
            "cc_nope_nope",
            lat=51.5,
            lng=-0.1,
            attributes={"bin_type": "food"},
        )
    assert refused.value.status == 403
    if fmt == "json":
        assert json.loads(refused.value.body)[0]["code"] == 403
    else:
        assert xmltodict.parse(refused.value.body)["errors"]["error"]["code"] == "403"


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


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_a_form_key_over_its_rate_limit_gets_429_in_the_spec_format(
    fmt: str, open311: str, api_keys_file: Path
) -> None:
    # The key travels in the form, not in a Bearer header, and is still counted against its limit.
    key = issue_key(
        api_keys_file, name="busy-app", scopes=["enquiries:write"], rate_limit="1 per minute"
    )
    form = {
        "api_key": key,
        "service_code": "missed_bin",
        "lat": "51.5",
        "long": "-0.1",
        "attribute[bin_type]": "food",
        "description": "Not collected",
    }
    async with httpx.AsyncClient(base_url=open311) as client:
        first = await client.post(f"/requests.{fmt}", data=form)
        assert first.status_code == 200, first.text
        throttled = await client.post(f"/requests.{fmt}", data=form)
    assert throttled.status_code == 429, throttled.text
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    if fmt == "json":
        (error,) = throttled.json()
    else:
        error = xmltodict.parse(throttled.content)["errors"]["error"]
    assert int(error["code"]) == 429
    assert "1 request per minute" in error["description"]
