"""FixMyStreet's Open311 client flow against enquiry-api, on the wire as FixMyStreet has it.

FixMyStreet (mysociety/fixmystreet, Perl) speaks XML only, through `perllib/Open311.pm`; no
Python library posts or reads mySociety's servicerequestupdates (civicbot and georeport do
neither). So `FixMyStreetOpen311` below is a re-creation, written for this test, of what
Open311.pm puts on the wire and how it reads the answers:

- `send_service_request` (`_populate_service_request_params`): a form with description,
  service_code, first_name/last_name (`split_name`), email, lat/long (`truncate_coordinate`),
  media_url and `attribute[...]`; it takes `request[0]{service_request_id}` if it is a scalar.
- `get_service_requests`: GET requests.xml?service_request_id=...; it reads `request`.
- `post_service_request_update` (`_populate_service_request_update_params`): updated_datetime
  (W3CDTF, with the local offset), service_request_id (the report's external_id), status
  (OPEN/CLOSED, or the extended statuses), description, first_name, last_name ("-" if none),
  email, phone, update_id (the comment's id), media_url; it takes
  `request_update[0]{update_id}` if it is a scalar, and stores it as the comment's external_id.
- `get_service_request_updates`: GET servicerequestupdates.xml with api_key, start_date and
  end_date; it reads `request_update`. GetServiceRequestUpdates then keeps an update only if its
  updated_datetime is in the window, its service_request_id is a report's external_id, and no
  comment on that report has its update_id as external_id; `map_state` gives the new state.
- Every POST carries jurisdiction_id and api_key; an error's text is `code: description` of
  each `error`.

Answers are parsed as `_get_xml_object` does with XML::Simple: the root element dropped,
ForceArray on service, attribute, value, request, error, request_update and group, the
GroupTags collapse, KeyAttr off and empty elements as undef (`xml_simple` below).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import httpx
import pytest

from contact_devtools.testing import LiveServer

LONDON = ZoneInfo("Europe/London")
JURISDICTION = "council.example"

# _get_xml_object's XML::Simple options: GroupTags (their values are also the ForceArray list).
GROUP_TAGS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
    "service_request_updates": "request_update",
    "groups": "group",
}
FORCE_ARRAY = frozenset(GROUP_TAGS.values())


def xml_simple(document: str) -> Any:
    """What XML::Simple->new(ForceArray, KeyAttr => {}, GroupTags, SuppressEmpty => undef)
    ->parse_string makes of an Open311 answer; None where it would die (Open311.pm's eval)."""
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError:
        return None
    return _element(root)


def _element(element: ElementTree.Element) -> Any:
    children = list(element)
    if not children:
        return element.text or None  # SuppressEmpty => undef
    value: dict[str, Any] = {}
    for child in children:
        parsed = _element(child)
        if child.tag in FORCE_ARRAY:
            value.setdefault(child.tag, []).append(parsed)
        elif child.tag in value:
            earlier = value[child.tag]
            value[child.tag] = (
                [*earlier, parsed] if isinstance(earlier, list) else [earlier, parsed]
            )
        else:
            value[child.tag] = parsed
    for tag, grouped in value.items():
        # GroupTags: <attributes><attribute>...</attribute></attributes> is attributes => [...].
        if isinstance(grouped, dict) and set(grouped) == {GROUP_TAGS.get(tag)}:
            value[tag] = grouped[GROUP_TAGS[tag]]
    return value


def is_scalar(value: Any) -> bool:
    """Perl's `not ref $value` for a defined value: a string, not a hash or an array."""
    return isinstance(value, str) and value != ""


def w3cdtf(moment: datetime) -> str:
    """DateTime::Format::W3CDTF->format_datetime: Z for UTC, the offset for a local zone."""
    text = moment.replace(microsecond=0).isoformat()
    return text.replace("+00:00", "Z") if moment.tzinfo is UTC else text


def split_name(name: str) -> tuple[str, str]:
    """Open311.pm's split_name: the first word, and the rest."""
    match = re.match(r"(\S+)(?:\.?\s+(.+))?", name or "")
    return (match.group(1), match.group(2) or "") if match else ("", "")


def truncate_coordinate(value: float) -> str:
    """Utils::truncate_coordinate: six decimals, trailing zeros dropped."""
    text = f"{value:0.6f}"
    return re.sub(r"\.?0+$", "", text)


@dataclass
class Comment:
    """A FixMyStreet update (DB::Result::Comment), as much as Open311.pm reads of it."""

    id: int
    text: str
    name: str
    email: str
    confirmed: datetime
    problem_state: str
    phone: str | None = None
    photo_url: str | None = None
    mark_open: bool = False
    external_id: str | None = None


@dataclass
class Problem:
    """A FixMyStreet report (DB::Result::Problem), as much as Open311.pm reads of it."""

    id: int
    title: str
    detail: str
    name: str
    email: str
    latitude: float
    longitude: float
    category_code: str
    extra_fields: dict[str, str]
    state: str = "confirmed"
    external_id: str | None = None
    comments: list[Comment] = field(default_factory=list)


OPEN_STATES = {"confirmed", "investigating", "in progress", "action scheduled", "planned"}
FIXED_STATES = {"fixed", "fixed - user", "fixed - council"}


class FixMyStreetOpen311:
    """What Open311.pm sends and how it reads the answers (see the module's docstring)."""

    def __init__(self, endpoint: str, *, api_key: str, extended_statuses: bool = False) -> None:
        self.endpoint = endpoint
        self.api_key = api_key
        self.extended_statuses = extended_statuses
        self.error = ""

    async def _request(self, method: str, path: str, params: dict[str, Any]) -> str | None:
        # The endpoint is configured with its trailing slash; the path is appended to it.
        url = self.endpoint + path
        params = {**params, "jurisdiction_id": JURISDICTION}
        if method == "POST":
            params["api_key"] = self.api_key
        async with httpx.AsyncClient(timeout=300) as client:
            if method == "GET":
                response = await client.get(url, params=params)
            else:
                # HTTP::Request::Common's POST: application/x-www-form-urlencoded, an array
                # value as the field repeated.
                response = await client.post(url, data=params)
        if response.is_success:
            self.error = ""
            return response.text
        self.error = (
            f"request failed: {response.status_code}\nerror: {self._process_error(response.text)}"
        )
        return None

    def _process_error(self, document: str) -> str:
        parsed = xml_simple(document)
        if isinstance(parsed, dict) and "error" in parsed:
            return "".join(
                f"{e.get('code') or '???'}: {e.get('description') or 'unknown error'}\n"
                for e in parsed["error"]
            )
        return "unknown error"

    async def send_service_request(self, problem: Problem, *, url: str) -> str | int:
        """Posts a report (requests.xml); its service_request_id, or 0."""
        first_name, last_name = split_name(problem.name)
        params: dict[str, Any] = {
            # extended_description for a UK cobrand (`$extra->{easting}` is set).
            "description": f"title: {problem.title}\n\ndetail: {problem.detail}\n\n"
            f"url: {url}\n\nSubmitted via FixMyStreet\n",
            "service_code": problem.category_code,
            "first_name": first_name,
            "last_name": last_name,
            "email": problem.email,
            "lat": truncate_coordinate(problem.latitude),
            "long": truncate_coordinate(problem.longitude),
        }
        for name, value in problem.extra_fields.items():
            params[f"attribute[{name}]"] = value
        answer = await self._request("POST", "requests.xml", params)
        parsed = xml_simple(answer) if answer else None
        if isinstance(parsed, dict):
            request_id = parsed["request"][0].get("service_request_id")
            if is_scalar(request_id):
                return request_id
        return 0

    async def get_service_requests(self, report_ids: list[str]) -> list[dict[str, Any]]:
        """GET requests.xml by ids: the `request` list."""
        answer = await self._request(
            "GET", "requests.xml", {"service_request_id": ",".join(report_ids)}
        )
        return (xml_simple(answer) or {}).get("request", []) if answer else []

    def _update_status(self, comment: Comment) -> str:
        state = comment.problem_state
        if not self.extended_statuses:
            return "OPEN" if state in OPEN_STATES else "CLOSED"
        if state in FIXED_STATES:
            return "FIXED"
        named = {
            "in progress": "IN_PROGRESS",
            "action scheduled": "ACTION_SCHEDULED",
            "investigating": "INVESTIGATING",
            "not responsible": "NOT_COUNCILS_RESPONSIBILITY",
            "unable to fix": "NO_FURTHER_ACTION",
            "closed": "CLOSED",
        }
        if state in named:
            return named[state]
        return "REOPEN" if comment.mark_open else "OPEN"

    async def post_service_request_update(self, problem: Problem, comment: Comment) -> str | int:
        """Posts an update (servicerequestupdates.xml); its update_id, or 0."""
        first_name, last_name = split_name(comment.name)
        params: dict[str, Any] = {
            "updated_datetime": w3cdtf(comment.confirmed),
            "service_request_id": problem.external_id,
            "status": self._update_status(comment),
            "description": comment.text,
            "last_name": last_name or "-",
            "first_name": first_name,
            "email": comment.email,
            "update_id": str(comment.id),
        }
        if comment.phone:
            params["phone"] = comment.phone
        if comment.photo_url:
            params["media_url"] = comment.photo_url
        answer = await self._request("POST", "servicerequestupdates.xml", params)
        parsed = xml_simple(answer) if answer else None
        if isinstance(parsed, dict):
            update_id = parsed["request_update"][0].get("update_id")
            if is_scalar(update_id):
                return update_id
        return 0

    async def get_service_request_updates(self, start: str, end: str) -> list[dict[str, Any]]:
        """GET servicerequestupdates.xml for a window: the `request_update` list."""
        answer = await self._request(
            "GET",
            "servicerequestupdates.xml",
            {"api_key": self.api_key, "start_date": start, "end_date": end},
        )
        return (xml_simple(answer) or {}).get("request_update") or [] if answer else []

    def map_state(self, status: str) -> str:
        """Open311.pm's map_state: a status as a FixMyStreet state."""
        incoming = status.lower().replace("_", " ")
        return {
            "fixed": "fixed - council",
            "not councils responsibility": "not responsible",
            "no further action": "unable to fix",
            "open": "confirmed",
            "closed": "closed" if self.extended_statuses else "fixed - council",
        }.get(incoming, incoming)


async def send_comments(open311: FixMyStreetOpen311, problem: Problem) -> list[str | int]:
    """The send-comments job (PostServiceRequestUpdates): each unsent comment, oldest first."""
    sent = []
    for comment in problem.comments:
        if comment.external_id is None:
            update_id = await open311.post_service_request_update(problem, comment)
            if update_id:
                comment.external_id = str(update_id)
            sent.append(update_id)
    return sent


async def fetch_updates(
    open311: FixMyStreetOpen311, problems: list[Problem], *, next_comment_id: Callable[[], int]
) -> list[Comment]:
    """The fetch-comments job (GetServiceRequestUpdates) over the last two hours: new comments."""
    now = datetime.now(UTC)
    start, end = w3cdtf(now - timedelta(hours=2)), w3cdtf(now)
    created = []
    for request in await open311.get_service_request_updates(start, end):
        if request.get("update_id") is None:
            continue
        updated = datetime.fromisoformat(request["updated_datetime"]).astimezone(UTC)
        if not start <= w3cdtf(updated) <= end:  # check_date compares the W3CDTF strings
            continue
        problem = next(
            (p for p in problems if p.external_id == request["service_request_id"]), None
        )
        if problem is None or any(c.external_id == request["update_id"] for c in problem.comments):
            continue
        state = open311.map_state(request["status"])
        comment = Comment(
            id=next_comment_id(),
            text=request.get("description") or "",
            name="The council",
            email="council@example.org",
            confirmed=updated.astimezone(LONDON),
            problem_state=state,
            external_id=request["update_id"],
        )
        problem.comments.append(comment)
        problem.state = state
        created.append(comment)
    return created


def test_xml_simple_reads_as_open311_pm_does() -> None:
    # The answers of FixMyStreet's own tests, read the way Open311.pm reads them.
    posted = xml_simple(
        '<?xml version="1.0" encoding="utf-8"?><service_request_updates><request_update>'
        "<update_id>248</update_id></request_update></service_request_updates>"
    )
    assert posted == {"request_update": [{"update_id": "248"}]}
    assert xml_simple(
        "<service_request_updates><request_update><update_id></update_id>"
        "</request_update></service_request_updates>"
    ) == {"request_update": [{"update_id": None}]}
    errors = xml_simple(
        "<errors><error><code>400</code><description>x</description></error></errors>"
    )
    assert errors == {"error": [{"code": "400", "description": "x"}]}
    definition = xml_simple(
        "<service_definition><attributes><attribute><code>a</code><values><value><key>k</key>"
        "</value></values></attribute></attributes></service_definition>"
    )
    assert definition == {"attributes": [{"code": "a", "values": [{"key": "k"}]}]}
    assert xml_simple("not xml") is None


@pytest.fixture
def fixmystreet(enquiry_api: LiveServer, issue_api_key: Callable[..., str]) -> FixMyStreetOpen311:
    """FixMyStreet's Open311 client, with the key a council would give it."""
    key = issue_api_key("enquiries:write", name="fixmystreet")
    return FixMyStreetOpen311(f"{enquiry_api.url}/open311/v2/", api_key=key)


async def test_fixmystreet_sends_a_report_and_its_comments_and_fetches_the_council_s(
    fixmystreet: FixMyStreetOpen311, admin: httpx.AsyncClient
) -> None:
    ids = iter(range(38362, 39000))
    problem = Problem(
        id=4242,
        title="Food bin not emptied",
        detail="Missed again on Tuesday",
        name="Ada Lovelace",
        email="ada.lovelace@example.org",
        latitude=51.50720000,
        longitude=-0.12760000,
        category_code="missed_bin",
        extra_fields={"bin_type": "food", "fixmystreet_id": "4242"},
    )

    # 1. The report is sent, and read back.
    external_id = await fixmystreet.send_service_request(
        problem, url="https://fixmystreet.example/report/4242"
    )
    assert external_id and isinstance(external_id, str), fixmystreet.error
    problem.external_id = external_id
    (read,) = await fixmystreet.get_service_requests([external_id])
    assert read["service_request_id"] == external_id
    assert (read["status"], read["service_code"]) == ("open", "missed_bin")
    assert float(read["lat"]) == 51.5072 and float(read["long"]) == -0.1276
    assert read["service_notice"] is None  # an empty element: undef
    token = read["token"]

    # 2. The council starts work; the resident comments on FixMyStreet.
    for step in ("acknowledge", "assign"):
        assert (await admin.post(f"/v1/enquiries/{token}/{step}", json={})).status_code == 200
    problem.comments.append(
        Comment(
            id=next(ids),
            text="Still not emptied, and the foxes have found it",
            name="Ada Lovelace",
            email="ada.lovelace@example.org",
            phone="+447700900123",
            photo_url="https://fixmystreet.example/photo/c/38362.0.full.jpeg",
            confirmed=datetime.now(LONDON),
            problem_state=problem.state,
        )
    )
    (update_id,) = await send_comments(fixmystreet, problem)
    assert update_id and isinstance(update_id, str), fixmystreet.error
    # Sent again (FixMyStreet lost the answer): the same update_id, recorded once.
    assert await fixmystreet.post_service_request_update(problem, problem.comments[0]) == update_id

    # 3. The fetch job: the council's two steps become comments; the resident's own update is
    # known by its external_id and skipped. FixMyStreet asks up to the current second.
    await asyncio.sleep(1.1)
    fetched = await fetch_updates(fixmystreet, [problem], next_comment_id=lambda: next(ids))
    assert [(c.problem_state, c.text) for c in fetched] == [
        ("investigating", "We have acknowledged your report and are looking into it."),
        ("in progress", "Your report has been passed to the team that deals with it."),
    ]
    assert problem.state == "in progress"
    updates = await fixmystreet.get_service_request_updates(
        w3cdtf(datetime.now(UTC) - timedelta(hours=2)), w3cdtf(datetime.now(UTC))
    )
    (own,) = [u for u in updates if u["update_id"] == update_id]
    assert own == {
        "update_id": update_id,
        "service_request_id": external_id,
        "status": "in_progress",
        "updated_datetime": w3cdtf(problem.comments[0].confirmed.astimezone(UTC)),
        "description": "Still not emptied, and the foxes have found it",
        "media_url": "https://fixmystreet.example/photo/c/38362.0.full.jpeg",
    }

    # 4. The council fixes it; FixMyStreet hears so. The resident says it is not fixed and
    # reopens the report (state confirmed, OPEN): the enquiry is reopened.
    assert (await admin.post(f"/v1/enquiries/{token}/resolve", json={})).status_code == 200
    await asyncio.sleep(1.1)
    (fixed,) = await fetch_updates(fixmystreet, [problem], next_comment_id=lambda: next(ids))
    assert problem.state == fixed.problem_state == "fixed - council"
    await asyncio.sleep(1.1)  # FixMyStreet's times are whole seconds
    problem.state = "confirmed"
    problem.comments.append(
        Comment(
            id=next(ids),
            text="It has not been fixed: the bin is still full",
            name="Ada",
            email="ada.lovelace@example.org",
            confirmed=datetime.now(LONDON),
            problem_state="confirmed",
            mark_open=True,
        )
    )
    (reopening,) = await send_comments(fixmystreet, problem)
    assert reopening and reopening != update_id, fixmystreet.error
    enquiry = (await admin.get(f"/v1/enquiries/{token}")).json()
    assert (enquiry["status"], enquiry["reopen_count"]) == ("reopened", 1)
    assert enquiry["history"][-1]["update"]["name"] == "Ada"  # last_name "-" is no name

    # Nothing comes back to FixMyStreet for it: neither its own update nor the reopening.
    await asyncio.sleep(1.1)
    assert await fetch_updates(fixmystreet, [problem], next_comment_id=lambda: next(ids)) == []
    assert problem.state == "confirmed"


async def test_fixmystreet_with_extended_statuses_and_its_errors(
    fixmystreet: FixMyStreetOpen311, admin: httpx.AsyncClient
) -> None:
    fixmystreet.extended_statuses = True
    problem = Problem(
        id=4343,
        title="Mattress in the lane",
        detail="Behind the library",
        name="Grace Hopper",
        email="grace@example.org",
        latitude=51.5,
        longitude=-0.1,
        category_code="fly_tipping",
        extra_fields={"waste_type": "household"},
    )
    problem.external_id = str(
        await fixmystreet.send_service_request(problem, url="https://fixmystreet.example/r/4343")
    )
    # A resident says it has gone (fixed - user: FIXED): the council's enquiry stays open.
    comment = Comment(
        id=51,
        text="Someone has taken it away",
        name="Grace Hopper",
        email="grace@example.org",
        confirmed=datetime.now(LONDON),
        problem_state="fixed - user",
    )
    problem.comments.append(comment)
    (update_id,) = await send_comments(fixmystreet, problem)
    assert update_id, fixmystreet.error
    token = (await fixmystreet.get_service_requests([problem.external_id]))[0]["token"]
    detail = (await admin.get(f"/v1/enquiries/{token}")).json()
    assert detail["status"] == "open"
    assert detail["history"][-1]["details"]["status"] == "fixed"

    # The same comment id with other words: refused, and FixMyStreet's error text says why.
    comment.text = "Actually it is still there"
    assert await fixmystreet.post_service_request_update(problem, comment) == 0
    assert "409: update_id '51' was posted before with a different description" in fixmystreet.error
    # A report this council never received.
    problem.external_id = "ENQ-2026-999999"
    comment.id = 52
    assert await fixmystreet.post_service_request_update(problem, comment) == 0
    assert "404: service request 'ENQ-2026-999999' not found" in fixmystreet.error
