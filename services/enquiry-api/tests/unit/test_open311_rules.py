"""Open311 GeoReport v2 rules, on plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from enquiry_api.open311.domain import (
    DEFAULT_CATALOGUE,
    Open311Error,
    catalogue_for,
    date_range,
    georeport_status,
    parse_w3c,
    read_service_request,
    update_status,
    w3c,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def form(**fields: str) -> dict[str, list[str]]:
    base = {"service_code": "fly_tipping", "lat": "51.5", "long": "-0.12"}
    base.update(fields)
    return {name: [value] for name, value in base.items()}


def error_of(fields: dict[str, list[str]]) -> Open311Error:
    with pytest.raises(Open311Error) as error:
        read_service_request(fields, DEFAULT_CATALOGUE)
    return error.value


def test_a_complete_request_becomes_an_enquiry_of_its_service_area() -> None:
    checked = read_service_request(
        form(
            **{
                "attribute[waste_type]": "tyres",
                "attribute[fixmystreet_id]": "4242",
                "first_name": "Ann",
                "last_name": "Smith",
                "description": "Four tyres",
            }
        ),
        DEFAULT_CATALOGUE,
    )
    assert checked.service.service_area == "environmental_health"
    assert checked.attributes == {"waste_type": "tyres", "fixmystreet_id": "4242"}
    assert checked.customer_name == "Ann Smith"
    assert (checked.latitude, checked.longitude) == (51.5, -0.12)
    assert checked.description == "Four tyres"


def test_a_request_without_a_description_is_described_by_its_service() -> None:
    checked = read_service_request(
        form(service_code="dog_fouling", address_string="Park Lane"), DEFAULT_CATALOGUE
    )
    assert checked.description == "Dog fouling"


@pytest.mark.parametrize(
    ("fields", "code", "text"),
    [
        ({"service_code": ["nope"]}, 404, "service_code 'nope' not found"),
        ({"lat": ["51.5"]}, 400, "service_code is required"),
        (form(**{"attribute[waste_type]": "tyres", "lat": "north"}), 400, "lat is not a number"),
        (form(**{"attribute[waste_type]": "tyres", "lat": "91"}), 400, "lat is out of range"),
        (form(), 400, "attribute[waste_type] is required"),
        (form(**{"attribute[waste_type]": "piano"}), 400, "attribute[waste_type] must be one of"),
        (
            form(**{"attribute[waste_type]": "tyres", "email": "not-an-email"}),
            400,
            "email is not an email address",
        ),
        (
            form(**{"attribute[waste_type]": "tyres", "media_url": "ftp://x"}),
            400,
            "media_url must be an http(s) URL",
        ),
        (
            form(**{"attribute[waste_type]": "tyres", "description": "x" * 4001}),
            400,
            "longer than 4000",
        ),
    ],
)
def test_bad_requests_get_the_spec_error_naming_the_field(
    fields: dict[str, list[str]], code: int, text: str
) -> None:
    error = error_of(fields)
    assert error.code == code
    assert text in error.description


def test_a_location_is_required() -> None:
    error = error_of({"service_code": ["dog_fouling"]})
    assert "a location is required" in error.description
    only_lat = error_of({"service_code": ["dog_fouling"], "lat": ["51.5"]})
    assert "both lat and long" in only_lat.description


def test_the_catalogue_offers_only_the_council_s_service_areas() -> None:
    codes = {s.code for s in catalogue_for(["waste", "general"])}
    assert codes == {"missed_bin", "street_cleaning", "other"}


def test_dates_are_w3c_with_a_zone() -> None:
    assert parse_w3c("2010-01-01T00:00:00Z", "start_date") == datetime(2010, 1, 1, tzinfo=UTC)
    assert w3c(datetime(2010, 1, 1, tzinfo=UTC)) == "2010-01-01T00:00:00Z"
    with pytest.raises(Open311Error, match="needs a time zone"):
        parse_w3c("2010-01-01T00:00:00", "start_date")
    with pytest.raises(Open311Error, match="not a W3C datetime"):
        parse_w3c("yesterday", "end_date")
    # Found by fuzzing (issue 7): year 1 in +14:00 overflowed when moved to UTC, a 500.
    with pytest.raises(Open311Error, match="start_date must be from 1970-01-01 to 2099-12-31"):
        parse_w3c("0001-01-01T00:00:00+14:00", "start_date")
    with pytest.raises(Open311Error, match="end_date must be from 1970-01-01"):
        parse_w3c("9999-12-31T23:59:59-12:00", "end_date")


def test_a_query_spans_the_last_90_days_by_default_and_no_more() -> None:
    assert date_range(None, None, now=NOW)[0] == NOW - timedelta(days=90)
    start, end = date_range("2026-01-01T00:00:00Z", None, now=NOW)
    assert end - start == timedelta(days=90)
    with pytest.raises(Open311Error, match="90 days"):
        date_range("2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z", now=NOW)
    with pytest.raises(Open311Error, match="before start_date"):
        date_range("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z", now=NOW)


def test_statuses_in_georeport_and_in_fixmystreet_s_updates() -> None:
    assert georeport_status("resolved") == "closed"
    assert georeport_status("assigned") == "open"
    assert [update_status(s) for s in ("acknowledged", "assigned", "resolved", "reopened")] == [
        "investigating",
        "in_progress",
        "fixed",
        "open",
    ]
