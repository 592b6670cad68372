"""Open311 GeoReport v2 rules, on plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contact_common.events import UpdateStatus
from enquiry_api.open311.domain import (
    DEFAULT_CATALOGUE,
    Open311Error,
    UpdateContent,
    catalogue_for,
    changed_fields,
    check_form_text,
    date_range,
    georeport_status,
    parse_w3c,
    read_service_request,
    read_service_request_update,
    read_update_status,
    update_reopens,
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
        (
            form(
                **{
                    "attribute[waste_type]": "tyres",
                    "first_name": "A" * 100,
                    "last_name": "B" * 100,
                }
            ),
            400,
            "first_name and last_name are longer than 199 characters together",
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


SKEW = timedelta(minutes=5)


def update_form(**fields: str | None) -> dict[str, list[str]]:
    """A POST servicerequestupdates body as FixMyStreet's Open311.pm builds it (and more)."""
    base: dict[str, str | None] = {
        "jurisdiction_id": "council.example",
        "api_key": "cc_key",
        "service_request_id": "ENQ-2026-000123",
        "update_id": "38362",
        "updated_datetime": "2026-03-02T11:30:00+00:00",
        "status": "OPEN",
        "description": "Still there this morning",
        "first_name": "Ann",
        "last_name": "Smith",
        "email": "ann@example.org",
        # What some cobrands' munging adds: accepted, not kept.
        "title": "MRS",
        "email_alerts_requested": "FALSE",
        "service_request_id_ext": "4242",
    }
    base.update(fields)
    return {name: [value] for name, value in base.items() if value is not None}


def read_update(fields: dict[str, list[str]]) -> UpdateContent:
    return read_service_request_update(fields, now=NOW, skew=SKEW).content


def test_an_update_as_fixmystreet_posts_it() -> None:
    checked = read_service_request_update(
        update_form(updated_datetime="2026-03-02T12:30:00+01:00", phone="+447700900123"),
        now=NOW,
        skew=SKEW,
    )
    assert (checked.service_request_id, checked.update_id) == ("ENQ-2026-000123", "38362")
    assert checked.content == UpdateContent(
        status=UpdateStatus.open,
        updated_at=datetime(2026, 3, 2, 11, 30, tzinfo=UTC),
        description="Still there this morning",
        name="Ann Smith",
        email="ann@example.org",
        phone="+447700900123",
        media_urls=(),
    )


def test_an_update_s_name_photos_and_empty_words() -> None:
    # FixMyStreet sends last_name "-" for a one-word name, and media_url once per photo.
    fields = update_form(last_name="-", description="")
    fields["media_url"] = [
        "https://fms.example/c/1.0.full.jpeg",
        "https://fms.example/c/1.1.full.jpeg",
    ]
    content = read_update(fields)
    assert content.name == "Ann"
    assert content.description is None
    assert len(content.media_urls) == 2


@pytest.mark.parametrize(
    ("given", "status"),
    [
        ("OPEN", UpdateStatus.open),
        ("closed", UpdateStatus.closed),
        ("REOPEN", UpdateStatus.reopen),
        ("IN_PROGRESS", UpdateStatus.in_progress),
        ("in progress", UpdateStatus.in_progress),
        ("NOT_COUNCILS_RESPONSIBILITY", UpdateStatus.not_councils_responsibility),
        (" Fixed ", UpdateStatus.fixed),
    ],
)
def test_update_statuses_in_any_case(given: str, status: UpdateStatus) -> None:
    assert read_update_status(given) is status


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"service_request_id": None}, "service_request_id is required"),
        ({"update_id": ""}, "update_id is required"),
        ({"updated_datetime": None}, "updated_datetime is required"),
        ({"status": None}, "status is required"),
        ({"status": "MENDED"}, "status 'MENDED' is not one of: OPEN, REOPEN, CLOSED, FIXED"),
        ({"updated_datetime": "2026-03-02T12:30:00"}, "updated_datetime needs a time zone"),
        ({"updated_datetime": "2026-03-02T12:06:00Z"}, "updated_datetime is in the future"),
        ({"email": "ann at example"}, "email is not an email address"),
        ({"phone": "call me"}, "phone is not a telephone number"),
        ({"media_url": "file:///etc/passwd"}, "media_url must be an http(s) URL"),
        ({"description": "x" * 10_001}, "description is longer than 10000 characters"),
        ({"update_id": "9" * 129}, "update_id is longer than 128 characters"),
        # A name is kept in 200 characters (a space between): found as a 500 at the database.
        ({"first_name": "A" * 100, "last_name": "B" * 100}, "longer than 199 characters together"),
    ],
)
def test_bad_updates_get_the_spec_error_naming_the_field(
    fields: dict[str, str | None], text: str
) -> None:
    with pytest.raises(Open311Error) as error:
        read_service_request_update(update_form(**fields), now=NOW, skew=SKEW)
    assert error.value.code == 400
    assert text in error.value.description


RESOLVED_AT = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "enquiry_status", "updated_at", "reopens"),
    [
        (UpdateStatus.open, "resolved", RESOLVED_AT + timedelta(hours=1), True),
        (UpdateStatus.reopen, "resolved", RESOLVED_AT, True),
        # Written before the resolution and delivered late: it was open when written.
        (UpdateStatus.open, "resolved", RESOLVED_AT - timedelta(seconds=1), False),
        # The enquiry is open already: nothing to reopen.
        (UpdateStatus.reopen, "assigned", RESOLVED_AT + timedelta(hours=1), False),
        # A resident's fixed or closed resolves nothing, and says nothing new of a resolved one.
        (UpdateStatus.fixed, "assigned", RESOLVED_AT + timedelta(hours=1), False),
        (UpdateStatus.closed, "resolved", RESOLVED_AT + timedelta(hours=1), False),
        # Another open state is the council's word (FixMyStreet not yet told), not a reopening.
        (UpdateStatus.investigating, "resolved", RESOLVED_AT + timedelta(hours=1), False),
    ],
)
def test_which_updates_reopen_a_resolved_enquiry(
    status: UpdateStatus, enquiry_status: str, updated_at: datetime, reopens: bool
) -> None:
    resolved_at = RESOLVED_AT if enquiry_status == "resolved" else None
    assert (
        update_reopens(
            status, enquiry_status=enquiry_status, resolved_at=resolved_at, updated_at=updated_at
        )
        is reopens
    )


def test_a_second_post_of_an_update_must_say_the_same() -> None:
    recorded = read_update(update_form())
    assert changed_fields(recorded, read_update(update_form()), erased=False) == []
    changed = read_update(update_form(description="Actually it has gone", status="CLOSED"))
    assert changed_fields(recorded, changed, erased=False) == ["status", "description"]
    renamed = read_update(update_form(last_name="Jones"))
    assert changed_fields(recorded, renamed, erased=False) == ["first_name/last_name"]
    # Erased: the personal fields are gone and cannot be compared; the rest still is.
    erased = UpdateContent(
        status=recorded.status,
        updated_at=recorded.updated_at,
        description=None,
        name=None,
        email=None,
        phone=None,
        media_urls=(),
    )
    assert changed_fields(erased, read_update(update_form()), erased=True) == []
    later = read_update(update_form(updated_datetime="2026-03-02T11:31:00Z"))
    assert changed_fields(erased, later, erased=True) == ["updated_datetime"]


def test_a_nul_character_is_refused_before_it_reaches_the_database() -> None:
    # PostgreSQL text cannot hold U+0000: it was a 500 (found by posting one).
    check_form_text(update_form())
    with pytest.raises(Open311Error, match="description contains a NUL character") as error:
        check_form_text(update_form(description="a\x00b"))
    assert error.value.code == 400
