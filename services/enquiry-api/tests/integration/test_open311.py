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
from datetime import UTC, datetime, timedelta
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
from contact_common.events import CloudEvent
from contact_devtools.testing import EventTap, LiveServer

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
        ({**base, "api_key": fixmystreet_key, "description": "a\x00b"}, 400, "NUL character"),
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


# --- mySociety's extension: updates posted on a request ---------------------------------------

MISSED_BIN = {
    "service_code": "missed_bin",
    "address_string": "1 High Street",
    "attribute[bin_type]": "food",
    "description": "Food bin not emptied",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada.lovelace@example.org",
}
COMMENT = "Still not emptied, and the foxes have found it"


async def open_request(client: httpx.AsyncClient, api_key: str) -> tuple[str, str]:
    """A request made with a plain form post: its service_request_id and token."""
    response = await client.post("/requests.json", data={**MISSED_BIN, "api_key": api_key})
    assert response.status_code == 200, response.text
    (created,) = response.json()
    return created["service_request_id"], created["token"]


def w3c_now(offset: timedelta = timedelta(0), zone: ZoneInfo = LONDON) -> str:
    """Now (plus `offset`) to the second, with the offset FixMyStreet writes for its zone."""
    return (datetime.now(UTC).replace(microsecond=0) + offset).astimezone(zone).isoformat()


def update_form(api_key: str, service_request_id: str, update_id: str, **fields: str) -> dict:
    """A POST servicerequestupdates form with the fields Open311.pm sends."""
    return {
        "jurisdiction_id": JURISDICTION,
        "api_key": api_key,
        "service_request_id": service_request_id,
        "update_id": update_id,
        "updated_datetime": w3c_now(),
        "status": "OPEN",
        "description": COMMENT,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada.lovelace@example.org",
        **fields,
    }


def answered_update_id(fmt: str, response: httpx.Response) -> str:
    """The update_id of a POST servicerequestupdates answer, read as its format says."""
    assert response.status_code == 200, response.text
    if fmt == "json":
        assert response.headers["content-type"] == "application/json"
        (answer,) = response.json()
        assert set(answer) == {"update_id"}
        return str(answer["update_id"])
    assert response.headers["content-type"].startswith("text/xml")
    document = xmltodict.parse(response.content, force_list=("request_update",))
    (answer,) = document["service_request_updates"]["request_update"]
    return str(answer["update_id"])


def spec_error(fmt: str, response: httpx.Response) -> tuple[int, str]:
    """The code and description of an error in the spec's format."""
    if fmt == "json":
        (error,) = response.json()
    else:
        error = xmltodict.parse(response.content)["errors"]["error"]
    return int(error["code"]), error["description"]


async def listed_updates(client: httpx.AsyncClient, fmt: str, reference: str) -> list[dict]:
    """GET servicerequestupdates (the last day), the updates of one request, as dicts of text."""
    response = await client.get(f"/servicerequestupdates.{fmt}")
    assert response.status_code == 200, response.text
    if fmt == "json":
        items = response.json()
    else:
        document = xmltodict.parse(response.content, force_list=("request_update",))
        items = (document["service_requests_updates"] or {}).get("request_update", [])
    return [u for u in items if u["service_request_id"] == reference]


def of_type(events: list[CloudEvent], subject: str, event_type: str) -> list[CloudEvent]:
    return [e for e in events if e.subject == subject and e.type == event_type]


@pytest.mark.parametrize("fmt", ["xml", "json"])
async def test_a_posted_update_is_recorded_once_published_and_listed(
    fmt: str,
    open311: str,
    fixmystreet_key: str,
    admin: httpx.AsyncClient,
    event_tap: Callable[[str], EventTap],
) -> None:
    async with httpx.AsyncClient(base_url=open311) as client, event_tap("contact.events") as tap:
        reference, token = await open_request(client, fixmystreet_key)
        written = w3c_now(timedelta(minutes=-1))
        form = update_form(
            fixmystreet_key,
            reference,
            "38362",
            updated_datetime=written,
            phone="07700 900123",
            media_url="https://fixmystreet.example/c/38362.0.full.jpeg",
            # What a cobrand may add (Bromley): accepted, not kept.
            title="MS",
            email_alerts_requested="FALSE",
        )
        update_id = answered_update_id(
            fmt, await client.post(f"/servicerequestupdates.{fmt}", data=form)
        )
        assert update_id.isdigit()
        # FixMyStreet retries an update whose answer it did not get: the same update_id back,
        # nothing recorded twice; by the request's token it is the same request.
        for again in (form, {**form, "service_request_id": token}):
            response = await client.post(f"/servicerequestupdates.{fmt}", data=again)
            assert answered_update_id(fmt, response) == update_id
        events = await tap.wait_for(lambda es: bool(of_type(es, token, "enquiry.update_received")))
        listed = await listed_updates(client, fmt, reference)

    (received,) = of_type(events, token, "enquiry.update_received")
    assert received.data.update_id == int(update_id)  # type: ignore[attr-defined]
    assert received.data.status == "open"  # type: ignore[attr-defined]
    assert received.data.reopened is False  # type: ignore[attr-defined]
    assert received.time == datetime.fromisoformat(written)
    assert not of_type(events, token, "enquiry.reopened")
    raw = b"".join(r.value for r in tap.raw)
    for personal in (b"Lovelace", b"ada.lovelace", b"900123", b"foxes", b"38362.0.full"):
        assert personal not in raw

    detail = (await admin.get(f"/v1/enquiries/{token}")).json()
    assert detail["status"] == "open"
    assert [h["action"] for h in detail["history"]] == ["opened", "update_received"]
    step = detail["history"][-1]
    assert step["details"] == {"update_id": "38362", "status": "open", "reopened": False}
    assert (step["from_status"], step["to_status"]) == ("open", "open")
    assert step["actor_name"] == "fixmystreet"
    # Staff read what the resident wrote, and who wrote it, on the enquiry's history.
    assert step["update"] == {
        "update_id": "38362",
        "status": "open",
        "description": COMMENT,
        "name": "Ada Lovelace",
        "email": "ada.lovelace@example.org",
        "phone": "07700 900123",
        "media_urls": ["https://fixmystreet.example/c/38362.0.full.jpeg"],
        "erased_at": None,
    }
    assert step["occurred_at"] == datetime.fromisoformat(written).astimezone(
        UTC
    ).isoformat().replace("+00:00", "Z")

    # GET servicerequestupdates lists it under the update_id answered, with what was said.
    (shown,) = listed
    assert shown["update_id"] == update_id
    assert shown["status"] == "open"
    assert datetime.fromisoformat(shown["updated_datetime"]) == datetime.fromisoformat(written)
    assert shown["description"] == COMMENT
    assert shown["media_url"] == "https://fixmystreet.example/c/38362.0.full.jpeg"
    for personal in ("Lovelace", "ada.lovelace", "900123"):
        assert personal not in str(shown)


@pytest.mark.parametrize("fmt", ["xml", "json"])
async def test_posted_updates_are_refused_in_the_spec_format(
    fmt: str,
    open311: str,
    fixmystreet_key: str,
    issue_api_key: Callable[..., str],
    new_enquiry: Callable[..., Any],
) -> None:
    reader_key = issue_api_key("enquiries:read")
    async with httpx.AsyncClient(base_url=open311) as client:
        reference, _ = await open_request(client, fixmystreet_key)
        other, _ = await open_request(client, fixmystreet_key)
        not_open311 = await new_enquiry()  # made through /v1: not an Open311 request
        form = update_form(fixmystreet_key, reference, "501")
        assert answered_update_id(
            fmt, await client.post(f"/servicerequestupdates.{fmt}", data=form)
        )
        cases: list[tuple[dict[str, str], int, str]] = [
            ({**form, "description": "Gone now"}, 409, "with a different description"),
            (
                {**form, "status": "CLOSED", "last_name": "Byron"},
                409,
                "status, first_name/last_name",
            ),
            ({**form, "service_request_id": other}, 409, "on another service request"),
            (
                {**form, "update_id": "502", "service_request_id": "ENQ-2026-999999"},
                404,
                "'ENQ-2026-999999' not found",
            ),
            (
                {**form, "update_id": "502", "service_request_id": not_open311["reference"]},
                404,
                "not found",
            ),
            ({**form, "update_id": ""}, 400, "update_id is required"),
            (
                {**form, "update_id": "502", "status": "MENDED"},
                400,
                "status 'MENDED' is not one of",
            ),
            (
                {**form, "update_id": "502", "updated_datetime": "today"},
                400,
                "updated_datetime is not a W3C datetime",
            ),
            (
                {**form, "update_id": "502", "updated_datetime": w3c_now(timedelta(hours=1))},
                400,
                "in the future",
            ),
            (
                {**form, "update_id": "502", "email": "ada at home"},
                400,
                "email is not an email address",
            ),
            ({**form, "update_id": "502", "description": "a\x00b"}, 400, "NUL character"),
            ({k: v for k, v in form.items() if k != "api_key"}, 403, "api_key is missing"),
            ({**form, "api_key": reader_key}, 403, "may not post service request updates"),
        ]
        for data, code, text in cases:
            response = await client.post(f"/servicerequestupdates.{fmt}", data=data)
            assert response.status_code == code, (data, response.text)
            error_code, description = spec_error(fmt, response)
            assert error_code == code
            assert text in description, response.text
        not_form = await client.post(
            f"/servicerequestupdates.{fmt}",
            content=b'{"update_id": 1}',
            headers={"content-type": "application/json"},
        )
        assert not_form.status_code == 403  # no api_key in a body that is not a form
        # Nothing refused was recorded: the one update is all there is.
        listed = await listed_updates(client, fmt, reference)
    assert len(listed) == 1


async def test_a_resident_reopens_a_resolved_request_through_the_lifecycle(
    open311: str,
    fixmystreet_key: str,
    admin: httpx.AsyncClient,
    event_tap: Callable[[str], EventTap],
) -> None:
    async with httpx.AsyncClient(base_url=open311) as client, event_tap("contact.events") as tap:
        reference, token = await open_request(client, fixmystreet_key)
        written_before = w3c_now()
        resolved = await admin.post(f"/v1/enquiries/{token}/resolve", json={})
        assert resolved.status_code == 200, resolved.text

        async def post(update_id: str, status: str, **fields: str) -> str:
            form = update_form(fixmystreet_key, reference, update_id, status=status, **fields)
            return answered_update_id(
                "xml", await client.post("/servicerequestupdates.xml", data=form)
            )

        # Written while the report was open, delivered after the resolution: no reopening.
        await post("601", "OPEN", updated_datetime=written_before)
        # A resident's thanks on a closed report: FixMyStreet says CLOSED; nothing changes.
        await post("602", "CLOSED", description="Thank you")
        assert (await admin.get(f"/v1/enquiries/{token}")).json()["status"] == "resolved"
        # FixMyStreet writes whole seconds: this one is made after the resolution.
        await asyncio.sleep(1.1)
        written = w3c_now()
        reopening = await post("603", "REOPEN", description="It is back", updated_datetime=written)
        # A resident's FIXED resolves nothing: the council resolves its own enquiries.
        await post("604", "FIXED", description="Someone moved it")
        events = await tap.wait_for(
            lambda es: len(of_type(es, token, "enquiry.update_received")) >= 4
        )
        listed = await listed_updates(client, "xml", reference)

    detail = (await admin.get(f"/v1/enquiries/{token}")).json()
    assert (detail["status"], detail["reopen_count"]) == ("reopened", 1)
    assert [(h["action"], h["to_status"]) for h in detail["history"]] == [
        ("opened", "open"),
        ("resolved", "resolved"),
        ("update_received", "resolved"),
        ("update_received", "resolved"),
        ("reopened", "reopened"),
        ("update_received", "reopened"),
        ("update_received", "reopened"),
    ]
    assert detail["history"][4]["details"] == {"reopen_count": 1, "cause": "update_received"}
    assert [
        h["details"].get("reopened")
        for h in detail["history"][2:]
        if h["action"] == "update_received"
    ] == [False, False, True, False]

    (reopened,) = of_type(events, token, "enquiry.reopened")
    assert reopened.data.reopen_count == 1  # type: ignore[attr-defined]
    assert reopened.time == datetime.fromisoformat(written)
    updates = of_type(events, token, "enquiry.update_received")
    assert [(e.data.status, e.data.reopened) for e in updates] == [  # type: ignore[attr-defined]
        ("open", False),
        ("closed", False),
        ("reopen", True),
        ("fixed", False),
    ]
    # The reopening before the update that caused it, on the enquiry's partition.
    mine = [e for e in events if e.subject == token]
    assert mine.index(reopened) == mine.index(updates[2]) - 1

    # Each update is listed with the request's status after it; the reopening it caused is not
    # listed apart (FixMyStreet would post it back as the council reopening the report).
    assert [(u["status"], u["description"]) for u in listed] == [
        ("fixed", "Your report has been dealt with."),
        ("fixed", COMMENT),
        ("fixed", "Thank you"),
        ("open", "It is back"),
        ("open", "Someone moved it"),
    ]
    assert listed[3]["update_id"] == reopening


async def test_concurrent_posts_of_one_update_record_it_once(
    open311: str, fixmystreet_key: str, admin: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient(base_url=open311) as client:
        reference, token = await open_request(client, fixmystreet_key)
        other, _ = await open_request(client, fixmystreet_key)
        form = update_form(fixmystreet_key, reference, "701")
        # A retry racing the first post: they take turns on the request's row.
        answers = await asyncio.gather(
            *(client.post("/servicerequestupdates.xml", data=form) for _ in range(6))
        )
        assert len({answered_update_id("xml", answer) for answer in answers}) == 1
        # One update_id on two requests at once: one is recorded, the other refused, no 500.
        racing = [
            update_form(fixmystreet_key, service_request_id, "702")
            for service_request_id in (reference, other)
        ]
        outcomes = await asyncio.gather(
            *(client.post("/servicerequestupdates.json", data=data) for data in racing)
        )
        assert sorted(r.status_code for r in outcomes) == [200, 409]
        refused = next(r for r in outcomes if r.status_code == 409)
        assert "on another service request" in spec_error("json", refused)[1]

    detail = (await admin.get(f"/v1/enquiries/{token}")).json()
    received = [h["details"]["update_id"] for h in detail["history"] if h["update"]]
    assert received.count("701") == 1
