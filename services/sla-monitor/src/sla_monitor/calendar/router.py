"""GET /v1/calendar/working-days."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from contact_common.auth import require_scope
from contact_common.errors import PROBLEM_RESPONSES
from contact_common.instants import Day
from sla_monitor.calendar import service
from sla_monitor.calendar.schemas import WorkingDays
from sla_monitor.dependencies import CalendarDep

router = APIRouter(prefix="/v1/calendar", tags=["calendar"])


@router.get(
    "/working-days",
    response_model=WorkingDays,
    response_model_by_alias=True,
    summary="Working days between two dates",
    description="Each day from `from` to `to` inclusive (at most two years): whether it is a "
    "working day, and the bank holiday or council closure that makes it not one. Deadlines "
    "in working days end at closing time on the Nth working day after receipt.",
    responses={s: PROBLEM_RESPONSES[s] for s in (401, 403, 422)},
    dependencies=[Depends(require_scope("sla:read"))],
)
async def get_working_days(
    calendar: CalendarDep,
    from_: Annotated[Day, Query(alias="from", description="The first day, e.g. 2026-12-21.")],
    to: Annotated[Day, Query(description="The last day, inclusive.")],
) -> WorkingDays:
    return service.working_days(calendar=calendar, start=from_, end=to)
