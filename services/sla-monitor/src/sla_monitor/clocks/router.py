"""GET /v1/clocks and GET /v1/breaches."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from contact_common.auth import require_scope
from contact_common.errors import PROBLEM_RESPONSES
from contact_common.events import CommitmentId, ServiceArea
from contact_common.instants import Day
from contact_common.service import SessionDep
from sla_monitor.clocks import service
from sla_monitor.clocks.schemas import BreachPage, ClockOut
from sla_monitor.dependencies import CalendarDep

router = APIRouter(prefix="/v1", tags=["clocks"], dependencies=[Depends(require_scope("sla:read"))])
_ERRORS: dict[int | str, dict[str, Any]] = {s: PROBLEM_RESPONSES[s] for s in (401, 403, 422)}


@router.get(
    "/clocks",
    response_model=list[ClockOut],
    summary="A contact's clocks",
    description="Every clock of one contact, in the order they started: pending, met, "
    "breached or excluded. An unknown contact has none.",
    responses=_ERRORS,
)
async def get_clocks(
    session: SessionDep,
    subject: Annotated[UUID, Query(description="The contact's id.")],
) -> list[ClockOut]:
    return [ClockOut.of(c) for c in await service.clocks_of_contact(session, subject=subject)]


@router.get(
    "/breaches",
    response_model=BreachPage,
    summary="Breaches, to chase",
    description="Breached clocks, latest breach first, a page at a time (follow next_cursor). "
    "open=true gives only breaches not yet stopped: the contacts still waiting. from and to "
    "are local dates of the breach (the deadline), inclusive.",
    responses=_ERRORS,
)
async def get_breaches(
    session: SessionDep,
    calendar: CalendarDep,
    commitment: Annotated[CommitmentId | None, Query(description="A commitment's id.")] = None,
    service_area: Annotated[ServiceArea | None, Query(description="A service area.")] = None,
    open: Annotated[  # noqa: A002 - the published name of the filter
        bool, Query(description="Only breaches not yet stopped (true), or all (false).")
    ] = False,
    from_: Annotated[
        Day | None, Query(alias="from", description="Breached on or after this date.")
    ] = None,
    to: Annotated[Day | None, Query(description="Breached on or before this date.")] = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="next_cursor of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Breaches per page.")] = 100,
) -> BreachPage:
    items, next_cursor = await service.list_breaches(
        session,
        calendar=calendar,
        commitment=commitment,
        service_area=service_area,
        open_only=open,
        breached_from=from_,
        breached_to=to,
        cursor=cursor,
        limit=limit,
    )
    return BreachPage(items=[ClockOut.of(c) for c in items], next_cursor=next_cursor)
