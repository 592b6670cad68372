"""The dashboard: a public page (HTML, its own JS and CSS, nothing from a CDN) and its data.

The page holds no figures; it fetches `/dashboard/data`, which is open when the setting
`dashboard_public` is true (the default: aggregates and contact ids only, no personal data, for
an internal network) and otherwise needs a `metrics:read` key, which the page takes from its URL
fragment (`/dashboard#key=...`; a fragment never reaches a server log).
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from contact_common.auth import require_scope
from contact_common.errors import PROBLEM_RESPONSES, ProblemError
from contact_common.service import SessionDep
from metrics_api.dashboard.service import dashboard_data
from metrics_api.kpis.dependencies import ConfigDep, PeriodDep, ServiceAreaQuery

router = APIRouter(tags=["dashboard"])

STATIC = resources.files("metrics_api.dashboard") / "static"
ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}

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
            "description": "The file: `dashboard.js` or `dashboard.css`.",
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
    "year). Open when `dashboard_public` is true, else needs a metrics:read key.",
    dependencies=[Depends(dashboard_access)],
    responses={k: v for k, v in PROBLEM_RESPONSES.items() if k in (401, 403, 422)},
)
async def get_dashboard_data(
    session: SessionDep,
    config: ConfigDep,
    period: PeriodDep,
    service_area: ServiceAreaQuery = None,
) -> dict[str, Any]:
    return await dashboard_data(session, period=period, service_area=service_area, config=config)
