"""The dashboard: a public page (HTML, its own JS and CSS, nothing from a CDN) and its data.

The page holds no figures; it fetches `/dashboard/data`, which is open when the setting
`dashboard_public` is true (the default: aggregates and contact ids only, no personal data, for
an internal network) and otherwise needs a `metrics:read` key, which the page takes from its URL
fragment (`/dashboard#key=...`; a fragment never reaches a server log).
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from contact_common.auth import require_scope
from contact_common.errors import PROBLEM_RESPONSES, ProblemError
from contact_common.service import SessionDep
from metrics_api.dashboard.service import dashboard_data
from metrics_api.dashboard.worklist import (
    KEY_NEEDED,
    WorklistFilters,
    WorklistResult,
    fetch_worklist,
    render_worklist,
)
from metrics_api.kpis.dependencies import ConfigDep, PeriodDep, ServiceAreaQuery

router = APIRouter(tags=["dashboard"])

STATIC = resources.files("metrics_api.dashboard") / "static"
ASSETS = {
    "dashboard.js": "text/javascript",
    "worklist.js": "text/javascript",
    "dashboard.css": "text/css",
}

_metrics_read = require_scope("metrics:read")
_bearer = HTTPBearer(auto_error=False)


async def dashboard_access(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Open when the dashboard is public; otherwise a metrics:read key is needed."""
    if request.app.state.runtime.settings.dashboard_public:
        return
    await _metrics_read(request, credentials)


@router.get(
    "/dashboard",
    response_class=HTMLResponse,
    summary="The dashboard page",
    description="A page for contact-centre managers: the score card, SLA compliance over "
    "time, call wait against target, channel mix and shift, open breaches. It refreshes "
    "itself; its data comes from `/dashboard/data`.",
)
async def get_dashboard(request: Request) -> HTMLResponse:
    settings = request.app.state.runtime.settings
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    page = page.replace("{{refresh_seconds}}", str(settings.dashboard_refresh_seconds))
    page = page.replace("{{key_required}}", "false" if settings.dashboard_public else "true")
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@router.get(
    "/dashboard/static/{name}",
    summary="The dashboard's script and style sheet",
    description="Served from the package, so the page works with no internet access.",
    response_class=Response,
    responses={
        200: {
            "description": "The file: `dashboard.js`, `worklist.js` or `dashboard.css`.",
            "content": {
                media_type: {"schema": {"type": "string"}} for media_type in ASSETS.values()
            },
        },
        404: PROBLEM_RESPONSES[404],
    },
)
async def get_asset(name: str) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise ProblemError(404, f"There is no dashboard file called {name}.", problem="not-found")
    content = (STATIC / name).read_text(encoding="utf-8")
    return Response(content, media_type=f"{media_type}; charset=utf-8")


@router.get(
    "/dashboard/data",
    summary="Every figure the dashboard shows",
    description="The score card, SLA compliance and call waits by month, channels with "
    "shift, and the 20 longest-overdue open breaches, for `period` (default: this financial "
    "year). The breaches come from sla-monitor's worklist (`status=breached`) when "
    "METRICS_SLA_MONITOR_URL and its key are set: each row has `reference`, `link` (the "
    "enquiry or complaints API's read URL, when configured) and `owner` (the staff "
    "directory's name, else the staff id, else Unassigned); otherwise, or when sla-monitor "
    "does not answer, metrics-api's own list with `reference` and `owner` null. "
    "`breaches_source` says which (`sla-monitor` or `metrics-api`). Open when "
    "`dashboard_public` is true, else needs a metrics:read key.",
    dependencies=[Depends(dashboard_access)],
    responses={k: v for k, v in PROBLEM_RESPONSES.items() if k in (401, 403, 422)},
)
async def get_dashboard_data(
    request: Request,
    session: SessionDep,
    config: ConfigDep,
    period: PeriodDep,
    service_area: ServiceAreaQuery = None,
) -> dict[str, Any]:
    return await dashboard_data(
        session,
        period=period,
        service_area=service_area,
        config=config,
        settings=request.app.state.runtime.settings,
    )


def _optional(pattern: str, description: str) -> Any:
    # A form sends an empty field for "All": empty is allowed, anything else must match.
    return Query(pattern=f"^({pattern})?$", max_length=64, description=description)


@router.get(
    "/dashboard/worklist",
    response_class=HTMLResponse,
    summary="The worklist page",
    description="Open commitments to act on, earliest due first: each contact by its "
    "reference (a link when the contact services' URLs are configured), its owner from the "
    "staff directory, the due time in the council's time zone and the status in words. Read "
    "server-side from sla-monitor's `GET /v1/worklist` (METRICS_SLA_MONITOR_URL and an sla:read "
    "key in METRICS_SLA_MONITOR_API_KEY); the filters are the URL's, the form a plain GET, and "
    "the page refreshes itself every `dashboard_refresh_seconds`. Its rows are open while "
    "`dashboard_public` is true; else they need a metrics:read key, which the page's script "
    "takes from its URL fragment (`#key=cc_...`) and sends as `Authorization` (without one "
    "the page says so; a key refused is 401/403). When the worklist cannot be read the page "
    "says why: 503 (sla-monitor did not answer), 502 (it refused), 200 (not configured).",
    responses={
        **{k: v for k, v in PROBLEM_RESPONSES.items() if k in (401, 403, 422)},
        502: {"description": "sla-monitor refused the request; the page says how."},
        503: {"description": "sla-monitor did not answer; the page says so."},
    },
)
async def get_worklist_page(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    service_area: Annotated[str, _optional("[a-z][a-z0-9_]{0,63}", "A service area.")] = "",
    assignee: Annotated[
        str, _optional("[A-Za-z0-9][A-Za-z0-9._:-]{0,63}", "An assignee's staff id.")
    ] = "",
    commitment: Annotated[str, _optional("[a-z][a-z0-9_-]{0,63}", "A commitment's id.")] = "",
    status: Annotated[str, _optional("breached|at_risk|open", "One status.")] = "",
    due: Annotated[str, _optional("today|week|any", "today, week or any.")] = "",
    cursor: Annotated[str, Query(max_length=200, description="The next page's cursor.")] = "",
) -> HTMLResponse:
    settings = request.app.state.runtime.settings
    filters = WorklistFilters(service_area, assignee, commitment, status, due, cursor)
    if settings.dashboard_public:
        result = await fetch_worklist(settings, filters)
    elif credentials is None:
        result = WorklistResult(200, problem=KEY_NEEDED)  # the script asks again with the key
    else:
        await _metrics_read(request, credentials)  # 401 or 403 for a key that may not
        result = await fetch_worklist(settings, filters)
    return HTMLResponse(
        render_worklist(settings, filters, result),
        status_code=result.status_code,
        headers={"Cache-Control": "no-store"},
    )
