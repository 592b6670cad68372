"""Open311 GeoReport v2 on plain values: the service catalogue, a request's form, statuses.

The spec: http://wiki.open311.org/GeoReport_v2 ; mySociety's servicerequestupdates extension is
what FixMyStreet polls for status changes (its states: open, investigating, in_progress,
action_scheduled, fixed, closed, ...; it lower-cases and reads `_` as a space).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from contact_common.errors import ProblemError
from contact_common.events import UpdateStatus
from contact_common.idempotency import parse_key
from contact_common.instants import check_instant

FORMATS = ("xml", "json")
MAX_RANGE = timedelta(days=90)
MAX_DESCRIPTION = 4000
MAX_ATTRIBUTES = 50
MAX_UPDATE_DESCRIPTION = 10_000
MAX_NAME = 200
MAX_MEDIA_URLS = 20
_ATTRIBUTE = re.compile(r"^attribute\[([A-Za-z0-9_.\-]{1,64})\](\[\])?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-.]{5,30}$")


class Open311Error(Exception):
    """An error in the spec's own format: an HTTP status code and a description."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@dataclass(frozen=True, slots=True)
class AttributeValue:
    """One allowed value of a list attribute."""

    key: str
    name: str


@dataclass(frozen=True, slots=True)
class ServiceAttribute:
    """A question a service asks (GeoReport v2 service definition attribute)."""

    code: str
    description: str
    datatype: str = "string"  # string, number, datetime, text, singlevaluelist, multivaluelist
    required: bool = False
    datatype_description: str = ""
    order: int = 1
    values: tuple[AttributeValue, ...] = ()


@dataclass(frozen=True, slots=True)
class Open311Service:
    """A kind of report residents can make, and the council service area that handles it."""

    code: str
    name: str
    description: str
    service_area: str
    group: str
    keywords: tuple[str, ...] = ()
    attributes: tuple[ServiceAttribute, ...] = field(default_factory=tuple)

    @property
    def metadata(self) -> bool:
        """True if the service asks questions (a client must read its definition)."""
        return bool(self.attributes)


def _attribute(raw: dict[str, Any]) -> ServiceAttribute:
    values = tuple(AttributeValue(**value) for value in raw.pop("values", ()))
    return ServiceAttribute(**raw, values=values)


def _read_catalogue(text: str) -> tuple[Open311Service, ...]:
    """The services of a catalogue in TOML (`catalogue.toml` beside this module)."""
    return tuple(
        Open311Service(
            **{key: value for key, value in raw.items() if key not in ("keywords", "attribute")},
            keywords=tuple(raw.get("keywords", ())),
            attributes=tuple(_attribute(attribute) for attribute in raw.get("attribute", ())),
        )
        for raw in tomllib.loads(text)["service"]
    )


DEFAULT_CATALOGUE: tuple[Open311Service, ...] = _read_catalogue(
    resources.files("enquiry_api.open311").joinpath("catalogue.toml").read_text(encoding="utf-8")
)
"""The services residents can report under, as shipped."""


def catalogue_for(service_areas: Sequence[str]) -> tuple[Open311Service, ...]:
    """The services whose service area this council has (a council may have renamed areas)."""
    return tuple(s for s in DEFAULT_CATALOGUE if s.service_area in service_areas)


def find_service(catalogue: Sequence[Open311Service], code: str) -> Open311Service:
    """The service with this code, or a 404 in the spec's format."""
    for service in catalogue:
        if service.code == code:
            return service
    raise Open311Error(404, f"service_code '{code}' not found; GET services for the list")


def check_format(fmt: str) -> str:
    """The response format asked for in the path's extension."""
    if fmt not in FORMATS:
        raise Open311Error(400, f"unknown format '.{fmt}'; use .xml or .json")
    return fmt


def parse_w3c(value: str, name: str) -> datetime:
    """A W3C datetime (2010-01-01T00:00:00Z) with a time zone, in UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Open311Error(400, f"{name} is not a W3C datetime like 2010-01-01T00:00:00Z") from None
    if parsed.tzinfo is None:
        raise Open311Error(400, f"{name} needs a time zone, e.g. 2010-01-01T00:00:00Z")
    try:
        # Year 1 in +14:00 would overflow when moved to UTC (found by fuzzing, issue 7).
        check_instant(parsed)
    except ValueError as exc:
        raise Open311Error(400, f"{name} {exc}") from None
    return parsed.astimezone(UTC)


def w3c(value: datetime | None) -> str | None:
    """A UTC instant as a W3C datetime."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def date_range(
    start: str | None, end: str | None, *, now: datetime, max_range: timedelta = MAX_RANGE
) -> tuple[datetime, datetime]:
    """The [start, end) window of a query; the most recent 90 days by default, 90 at most."""
    end_at = parse_w3c(end, "end_date") if end else None
    start_at = parse_w3c(start, "start_date") if start else None
    if start_at is None and end_at is None:
        return now - max_range, now + timedelta(seconds=1)
    if start_at is None:
        assert end_at is not None
        return end_at - max_range, end_at
    if end_at is None:
        return start_at, start_at + max_range
    if end_at < start_at:
        raise Open311Error(400, "end_date is before start_date")
    if end_at - start_at > max_range:
        raise Open311Error(400, "start_date and end_date may not span more than 90 days")
    return start_at, end_at


def comma_list(value: str | None) -> list[str]:
    """The items of a comma-delimited parameter."""
    if not value:
        return []
    return [item.strip() for item in value.split(",") if item.strip()]


@dataclass(frozen=True, slots=True)
class ServiceRequestForm:
    """A checked POST requests body: what the enquiry is made of."""

    service: Open311Service
    description: str
    latitude: float | None
    longitude: float | None
    address: str | None
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    media_url: str | None
    attributes: dict[str, Any]

    @property
    def customer_name(self) -> str | None:
        """The reporter's name, from first and last names."""
        name = " ".join(part for part in (self.first_name, self.last_name) if part)
        return name or None


def check_form_text(form: Mapping[str, list[str]]) -> None:
    """Refuses a form with a NUL character in a value: no text column can hold one."""
    for name, values in form.items():
        if any("\x00" in value for value in values):
            raise Open311Error(400, f"{name.replace(chr(0), '')[:64]} contains a NUL character")


def _names(form: Mapping[str, list[str]]) -> tuple[str | None, str | None]:
    """first_name and last_name, which together must fit the 200 characters kept of a name."""
    first_name, last_name = _text(form, "first_name", 100), _text(form, "last_name", 100)
    if len(first_name or "") + len(last_name or "") >= MAX_NAME:
        raise Open311Error(
            400, f"first_name and last_name are longer than {MAX_NAME - 1} characters together"
        )
    return first_name, last_name


def _text(form: Mapping[str, list[str]], name: str, limit: int) -> str | None:
    values = form.get(name) or []
    value = values[-1].strip() if values else ""
    if not value:
        return None
    if len(value) > limit:
        raise Open311Error(400, f"{name} is longer than {limit} characters")
    return value


def _coordinate(form: Mapping[str, list[str]], name: str, bound: float) -> float | None:
    text = _text(form, name, 40)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise Open311Error(400, f"{name} is not a number: '{text}'") from None
    if not -bound <= value <= bound:
        raise Open311Error(400, f"{name} is out of range (-{bound} to {bound})")
    return value


def _attribute_answers(form: Mapping[str, list[str]]) -> dict[str, list[str]]:
    answers: dict[str, list[str]] = {}
    for name, values in form.items():
        match = _ATTRIBUTE.match(name)
        if match:
            kept = [v.strip()[:1000] for v in values if v.strip()]
            if kept:
                answers.setdefault(match.group(1), []).extend(kept)
    if len(answers) > MAX_ATTRIBUTES:
        raise Open311Error(400, f"more than {MAX_ATTRIBUTES} attributes")
    return answers


def _checked_attributes(service: Open311Service, answers: dict[str, list[str]]) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for attribute in service.attributes:
        given = answers.get(attribute.code, [])
        if not given:
            if attribute.required:
                raise Open311Error(
                    400, f"attribute[{attribute.code}] is required: {attribute.description}"
                )
            continue
        allowed = {v.key for v in attribute.values}
        if attribute.datatype == "singlevaluelist":
            if len(given) > 1 or given[0] not in allowed:
                raise Open311Error(
                    400,
                    f"attribute[{attribute.code}] must be one of: " + ", ".join(sorted(allowed)),
                )
            checked[attribute.code] = given[0]
        elif attribute.datatype == "multivaluelist":
            wrong = [v for v in given if v not in allowed]
            if wrong:
                raise Open311Error(
                    400,
                    f"attribute[{attribute.code}] values must be among: "
                    + ", ".join(sorted(allowed)),
                )
            checked[attribute.code] = given
        elif attribute.datatype == "number":
            try:
                checked[attribute.code] = float(given[-1])
            except ValueError:
                raise Open311Error(400, f"attribute[{attribute.code}] must be a number") from None
        elif attribute.datatype == "datetime":
            checked[attribute.code] = w3c(parse_w3c(given[-1], f"attribute[{attribute.code}]"))
        else:
            checked[attribute.code] = given[-1]
    # Attributes the service does not define (FixMyStreet sends its own, e.g. fixmystreet_id)
    # are kept as given: they help staff find the report.
    defined = {a.code for a in service.attributes}
    for code, given in answers.items():
        if code not in defined:
            checked[code] = given[-1] if len(given) == 1 else given
    return checked


def read_service_request(
    form: Mapping[str, list[str]], catalogue: Sequence[Open311Service]
) -> ServiceRequestForm:
    """Checks a POST requests form (GeoReport v2), or raises the spec's 400/404 error."""
    code = _text(form, "service_code", 64)
    if code is None:
        raise Open311Error(400, "service_code is required")
    service = find_service(catalogue, code)
    latitude = _coordinate(form, "lat", 90)
    longitude = _coordinate(form, "long", 180)
    if (latitude is None) != (longitude is None):
        raise Open311Error(400, "give both lat and long, or neither")
    address = _text(form, "address_string", 500)
    address_id = _text(form, "address_id", 64)
    if latitude is None and address is None and address_id is None:
        raise Open311Error(
            400, "a location is required: lat and long, address_string or address_id"
        )
    email, phone = _email_and_phone(form)
    media_url = _text(form, "media_url", 1000)
    if media_url is not None and not media_url.startswith(("http://", "https://")):
        raise Open311Error(400, "media_url must be an http(s) URL")
    attributes = _checked_attributes(service, _attribute_answers(form))
    first_name, last_name = _names(form)
    if address_id is not None:
        attributes["address_id"] = address_id
    return ServiceRequestForm(
        service=service,
        description=_text(form, "description", MAX_DESCRIPTION) or service.name,
        latitude=latitude,
        longitude=longitude,
        address=address,
        first_name=first_name,
        last_name=last_name,
        email=email,
        phone=phone,
        media_url=media_url,
        attributes=attributes,
    )


def georeport_status(enquiry_status: str) -> str:
    """GeoReport v2's status of an enquiry: open or closed."""
    return "closed" if enquiry_status in ("resolved", "voided") else "open"


_UPDATE_STATUS = {
    "open": "open",
    "acknowledged": "investigating",
    "assigned": "in_progress",
    "responded": "action_scheduled",
    "resolved": "fixed",
    "reopened": "open",
}

_STATUS_NOTES = {
    "open": "Received.",
    "acknowledged": "We have acknowledged your report and are looking into it.",
    "assigned": "Your report has been passed to the team that deals with it.",
    "responded": "The team has responded to your report.",
    "resolved": "Your report has been dealt with.",
    "reopened": "Your report has been reopened.",
}


def update_status(enquiry_status: str) -> str:
    """The servicerequestupdates status (FixMyStreet's states) of an enquiry status."""
    return _UPDATE_STATUS.get(enquiry_status, "open")


def status_notes(enquiry_status: str) -> str:
    """A sentence for the public about where the report is."""
    return _STATUS_NOTES.get(enquiry_status, "")


UPDATE_ACTIONS = (
    "acknowledged",
    "assigned",
    "responded",
    "resolved",
    "reopened",
    "update_received",
)
"""The history steps reported as updates (not the opening, nor an erasure)."""


def is_listed_update(action: str, details: Mapping[str, Any] | None) -> bool:
    """True if GET servicerequestupdates lists this history step.

    A reopening that a posted update caused is not listed: the update itself is, with the status
    open, and a second entry would come back to FixMyStreet as the council's own comment
    reopening a report the resident has just reopened.
    """
    if action not in UPDATE_ACTIONS:
        return False
    return not (action == "reopened" and (details or {}).get("cause") == "update_received")


REOPENING_STATUSES = frozenset({UpdateStatus.open, UpdateStatus.reopen})
"""What a resident's update says when it reopens a report (FixMyStreet: OPEN, or REOPEN)."""


def read_update_status(value: str) -> UpdateStatus:
    """A posted update's status in mySociety's vocabulary: any case, `_` or spaces."""
    key = re.sub(r"[\s_]+", "_", value.strip().lower())
    try:
        return UpdateStatus(key)
    except ValueError:
        allowed = ", ".join(status.value.upper() for status in UpdateStatus)
        raise Open311Error(400, f"status '{value[:40]}' is not one of: {allowed}") from None


@dataclass(frozen=True, slots=True)
class UpdateContent:
    """What a posted update says: two posts of one update_id must say the same."""

    status: UpdateStatus
    updated_at: datetime
    description: str | None
    name: str | None
    email: str | None
    phone: str | None
    media_urls: tuple[str, ...]


_PERSONAL_CONTENT = ("description", "name", "email", "phone", "media_urls")
_FORM_NAMES = {
    "status": "status",
    "updated_at": "updated_datetime",
    "description": "description",
    "name": "first_name/last_name",
    "email": "email",
    "phone": "phone",
    "media_urls": "media_url",
}


def changed_fields(recorded: UpdateContent, posted: UpdateContent, *, erased: bool) -> list[str]:
    """The form fields in which a post of an update_id differs from the one recorded.

    Once the recorded update was erased its personal fields are gone, so only the status and
    the time can be compared: a retry after an erasure is still the same update.
    """
    names = [name for name in _FORM_NAMES if not (erased and name in _PERSONAL_CONTENT)]
    return [_FORM_NAMES[n] for n in names if getattr(recorded, n) != getattr(posted, n)]


@dataclass(frozen=True, slots=True)
class ServiceRequestUpdateForm:
    """A checked POST servicerequestupdates body (mySociety's extension)."""

    service_request_id: str
    update_id: str
    content: UpdateContent


def _required(form: Mapping[str, list[str]], name: str, limit: int) -> str:
    value = _text(form, name, limit)
    if value is None:
        raise Open311Error(400, f"{name} is required")
    return value


def _person_name(first_name: str | None, last_name: str | None) -> str | None:
    # FixMyStreet sends last_name "-" for someone who gave one name.
    parts = [part for part in (first_name, last_name) if part and part != "-"]
    return " ".join(parts) or None


def _email_and_phone(form: Mapping[str, list[str]]) -> tuple[str | None, str | None]:
    """The form's email and phone, if given, each checked for shape."""
    email = _text(form, "email", 254)
    if email is not None and not _EMAIL.match(email):
        raise Open311Error(400, "email is not an email address")
    phone = _text(form, "phone", 32)
    if phone is not None and not _PHONE.match(phone):
        raise Open311Error(400, "phone is not a telephone number")
    return email, phone


def read_service_request_update(
    form: Mapping[str, list[str]], *, now: datetime, skew: timedelta
) -> ServiceRequestUpdateForm:
    """Checks a POST servicerequestupdates form, or raises the spec's 400 error."""
    service_request_id = _required(form, "service_request_id", 64)
    update_id = _required(form, "update_id", 128)
    updated_at = parse_w3c(_required(form, "updated_datetime", 40), "updated_datetime")
    if updated_at > now + skew:
        raise Open311Error(400, f"updated_datetime is in the future (now is {w3c(now)})")
    status = read_update_status(_required(form, "status", 64))
    email, phone = _email_and_phone(form)
    # FixMyStreet sends media_url once per photo when a council takes several.
    media_urls = tuple(url.strip() for url in form.get("media_url") or [] if url.strip())
    if len(media_urls) > MAX_MEDIA_URLS:
        raise Open311Error(400, f"more than {MAX_MEDIA_URLS} media_url")
    for url in media_urls:
        if len(url) > 1000 or not url.startswith(("http://", "https://")):
            raise Open311Error(400, "media_url must be an http(s) URL of at most 1000 characters")
    return ServiceRequestUpdateForm(
        service_request_id=service_request_id,
        update_id=update_id,
        content=UpdateContent(
            status=status,
            updated_at=updated_at,
            description=_text(form, "description", MAX_UPDATE_DESCRIPTION),
            name=_person_name(*_names(form)),
            email=email,
            phone=phone,
            media_urls=media_urls,
        ),
    )


def update_reopens(
    status: UpdateStatus,
    *,
    enquiry_status: str,
    resolved_at: datetime | None,
    updated_at: datetime,
) -> bool:
    """True if a resident's update reopens the enquiry.

    It must say the report is open (OPEN, or REOPEN) about an enquiry that is resolved, and have
    been made after the resolution: an update written before it and delivered late (FixMyStreet
    sends in batches and retries) says "open" because the report was open when it was written.
    A resident's FIXED or CLOSED resolves nothing: the council resolves its own enquiries.
    """
    return (
        status in REOPENING_STATUSES
        and enquiry_status == "resolved"
        and resolved_at is not None
        and updated_at >= resolved_at
    )


class RequestKey:
    """The idempotency key of a POST requests: the header's, or the sender's own report id."""

    # FixMyStreet's Open311.pm sends its report's id as attribute[external_id]; cobrands that
    # define the attribute send attribute[fixmystreet_id].
    SENDER_IDS = ("external_id", "fixmystreet_id")

    @classmethod
    def of(cls, form: Mapping[str, list[str]], *, header: str | None) -> str | None:
        """The key to claim, or None for a request that gave none."""
        if header is not None:
            try:
                return parse_key(header)
            except ProblemError as problem:
                raise Open311Error(400, problem.detail) from None
        for name in cls.SENDER_IDS:
            given = (form.get(f"attribute[{name}]") or [""])[-1].strip()
            if given and len(given) <= 200 and given.isprintable():
                return f"attribute[{name}]={given}"
        return None
