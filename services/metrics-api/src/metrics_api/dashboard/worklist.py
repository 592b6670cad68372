"""The worklist page: sla-monitor's GET /v1/worklist read server-side and rendered for people.

metrics-api holds the sla:read key (METRICS_SLA_MONITOR_API_KEY), so the browser never needs
one of sla-monitor's, and the page works with no script at all (its script only refreshes it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
from jinja2 import Environment, PackageLoader, select_autoescape

from contact_common.logs import get_logger
from metrics_api.config import Settings

log = get_logger(__name__)

_TEMPLATES = Environment(
    loader=PackageLoader("metrics_api.dashboard", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
STATUS_WORDS = {"breached": "Breached", "at_risk": "At risk", "open": "On track"}
DUE_WORDS = {"any": "Any time", "today": "Due today", "week": "Due this week"}
FILTERS = ("service_area", "assignee", "commitment", "status", "due")
PAGE_SIZE = 100
KEY_NEEDED = (
    "The worklist needs a metrics:read key: open this page as /dashboard/worklist#key=cc_… "
    "(the part after # never leaves the browser but as the request's Authorization header)."
)


@dataclass(frozen=True, slots=True)
class WorklistFilters:
    """The page's filters as the URL gives them; an empty one is no filter."""

    service_area: str = ""
    assignee: str = ""
    commitment: str = ""
    status: str = ""
    due: str = ""
    cursor: str = ""

    def query(self, *, cursor: str | None = None) -> dict[str, str]:
        """The non-empty filters (and a cursor), as URL query parameters."""
        found = {name: getattr(self, name) for name in FILTERS if getattr(self, name)}
        return {**found, "cursor": cursor} if cursor else found


@dataclass(slots=True)
class WorklistResult:
    """What sla-monitor answered: a page of rows, or why there is none."""

    status_code: int = 200
    page: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None


def worklist_configured(settings: Settings) -> bool:
    """True if sla-monitor's worklist can be read (its URL and an sla:read key are set)."""
    return bool(settings.sla_monitor_url) and settings.sla_monitor_api_key is not None


async def fetch_worklist(
    settings: Settings, filters: WorklistFilters, *, limit: int = PAGE_SIZE
) -> WorklistResult:
    """One page of sla-monitor's worklist, or the problem to show instead."""
    if not settings.sla_monitor_url or settings.sla_monitor_api_key is None:
        # The page itself is served (200), like the dashboard's: it says what is missing.
        return WorklistResult(
            200,
            problem="The worklist is not configured: set METRICS_SLA_MONITOR_URL and "
            "METRICS_SLA_MONITOR_API_KEY (an sla:read key).",
        )
    url = f"{settings.sla_monitor_url.rstrip('/')}/v1/worklist"
    key = settings.sla_monitor_api_key.get_secret_value()
    params = {**filters.query(cursor=filters.cursor or None), "limit": str(limit)}
    try:
        async with httpx.AsyncClient(timeout=settings.sla_monitor_timeout_seconds) as client:
            response = await client.get(
                url, params=params, headers={"Authorization": f"Bearer {key}"}
            )
    except httpx.HTTPError as exc:
        log.warning("worklist unavailable", error=type(exc).__name__)
        return WorklistResult(503, problem="sla-monitor did not answer; try again shortly.")
    if response.status_code == 422:
        return WorklistResult(422, problem=_detail(response))
    if response.status_code != 200:
        log.warning("worklist refused", status=response.status_code)
        return WorklistResult(
            502, problem=f"sla-monitor answered {response.status_code}: {_detail(response)}"
        )
    return WorklistResult(page=response.json())


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail") or response.text)
    except ValueError:
        return response.text[:200]


def _local(value: str, zone: ZoneInfo) -> str:
    at = datetime.fromisoformat(value).astimezone(zone)
    return at.strftime("%a %-d %b %Y, %H:%M")


def contact_link(settings: Settings, contact_type: str, contact_id: str) -> str | None:
    """The contact's read URL on the enquiry or complaints API, if that API's URL is set."""
    bases = {
        "enquiry": (settings.enquiry_api_url, "enquiries"),
        "complaint": (settings.complaints_api_url, "complaints"),
    }
    base, collection = bases.get(contact_type, (None, None))
    if not base:
        return None
    return f"{base.rstrip('/')}/v1/{collection}/{contact_id}"


def _link(settings: Settings, item: dict[str, Any]) -> str | None:
    return contact_link(settings, item["subject_type"], item["subject_id"])


def _row(settings: Settings, item: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    return {
        **item,
        "link": _link(settings, item),
        "status_word": STATUS_WORDS.get(item["status"], item["status"]),
        "due_local": _local(item["due_at"], zone),
        "started_local": _local(item["started_at"], zone),
    }


def render_worklist(settings: Settings, filters: WorklistFilters, result: WorklistResult) -> str:
    """The worklist page's HTML."""
    zone = settings.calendar.timezone
    page = result.page
    next_cursor = page.get("next_cursor")
    return _TEMPLATES.get_template("worklist.html").render(
        filters=filters,
        problem=result.problem,
        rows=[_row(settings, item, zone) for item in page.get("items", [])],
        total=page.get("total"),
        as_of=_local(page["as_of"], zone) if page.get("as_of") else None,
        zone=zone.key,
        next_url=(
            f"/dashboard/worklist?{urlencode(filters.query(cursor=next_cursor))}"
            if next_cursor
            else None
        ),
        first_url=f"/dashboard/worklist?{urlencode(filters.query())}" if filters.cursor else None,
        service_areas=settings.service_areas,
        commitments=[c.id for c in settings.commitments.commitments],
        status_words=STATUS_WORDS,
        due_words=DUE_WORDS,
        refresh_seconds=settings.dashboard_refresh_seconds,
        key_required=not settings.dashboard_public,
    )
