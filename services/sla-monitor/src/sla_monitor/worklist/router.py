"""GET /v1/worklist: the open clocks staff must act on, as JSON or CSV."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from contact_common.auth import require_scope
from contact_common.errors import PROBLEM_RESPONSES
from contact_common.events import CommitmentId, ServiceArea, StaffId
from contact_common.service import SessionDep
from sla_monitor.dependencies import CalendarDep, ClockDep
from sla_monitor.worklist import service
from sla_monitor.worklist.domain import Due, WorkStatus
from sla_monitor.worklist.export import CSV_MEDIA_TYPE, csv_text
from sla_monitor.worklist.schemas import WorklistItem, WorklistPage

router = APIRouter(
    prefix="/v1", tags=["worklist"], dependencies=[Depends(require_scope("sla:read"))]
)


class Format(StrEnum):
    """How the worklist is answered."""

    json = "json"
    csv = "csv"


_CSV_RESPONSE = {
    "description": "The page as CSV (`?format=csv` or `Accept: text/csv`): a header row, "
    "then one line per clock; the total and the next cursor in `X-Total-Count` and "
    "`X-Next-Cursor`.",
    "content": {"text/csv": {"schema": {"type": "string"}}},
}


@router.get(
    "/worklist",
    response_model=WorklistPage,
    summary="The worklist: open clocks to act on",
    description="Open clocks (running, or breached with no stop yet), earliest deadline first, "
    "a page at a time (follow next_cursor) with the total over all pages. Each row names the "
    "contact by its reference and its owner from the staff directory. `due`: today (due by "
    "the end of today in the council's time zone, overdue ones included), week (by the end of "
    "this Sunday), any. `service_area` (repeatable): any of these areas. `status` "
    "(repeatable): breached, at_risk, open (on track). As CSV with `?format=csv` or "
    "`Accept: text/csv`. The alert digest of a team lists exactly `due=today` and "
    "`status=at_risk&status=breached` over the team's service areas.",
    responses={
        **{s: PROBLEM_RESPONSES[s] for s in (401, 403, 422)},
        200: {"content": _CSV_RESPONSE["content"]},
    },
)
async def get_worklist(
    session: SessionDep,
    calendar: CalendarDep,
    clock: ClockDep,
    due: Annotated[Due, Query(description="today, week or any.")] = Due.any,
    service_area: Annotated[
        list[ServiceArea], Query(description="A service area; repeat for any of several.")
    ] = [],  # noqa: B006 - FastAPI copies a query list's default
    assignee: Annotated[StaffId | None, Query(description="An assignee's staff id.")] = None,
    commitment: Annotated[CommitmentId | None, Query(description="A commitment's id.")] = None,
    status: Annotated[
        list[WorkStatus], Query(description="breached, at_risk or open; repeat for several.")
    ] = [],  # noqa: B006 - FastAPI copies a query list's default
    cursor: Annotated[
        str | None, Query(max_length=200, description="next_cursor of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Clocks per page.")] = 100,
    format_: Annotated[
        Format | None, Query(alias="format", description="json or csv (else by Accept).")
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> WorklistPage | Response:
    page = await service.worklist_page(
        session,
        calendar=calendar,
        now=clock.now(),
        due=due,
        service_areas=service_area,
        assignee=assignee,
        commitment=commitment,
        statuses=status,
        cursor=cursor,
        limit=limit,
    )
    items = [WorklistItem.of(row) for row in page.rows]
    wants_csv = format_ is Format.csv or (format_ is None and "text/csv" in (accept or ""))
    if wants_csv:
        headers = {
            "X-Total-Count": str(page.total),
            "Content-Disposition": 'attachment; filename="worklist.csv"',
        }
        if page.next_cursor:
            headers["X-Next-Cursor"] = page.next_cursor
        return Response(csv_text(items), media_type=CSV_MEDIA_TYPE, headers=headers)
    return WorklistPage(
        as_of=page.as_of, total=page.total, items=items, next_cursor=page.next_cursor
    )
