"""HTTP route of reception visits."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import TypeAdapter

from enquiry_api.common import ContactWriteDep, one_or_many_route, record_posted
from enquiry_api.visits import service
from enquiry_api.visits.domain import VisitOutcome
from enquiry_api.visits.schemas import VisitBatchResult, VisitRecordIn

router = APIRouter(prefix="/v1", tags=["visits"])

_VISIT = TypeAdapter(VisitRecordIn)


@router.post(
    "/visits",
    summary="Record reception visits",
    description="One visit record or a list (at most `max_call_batch`, else 413), keyed by the "
    "kiosk's `visit_id`. A new visit publishes visit.arrived (and visit.attended if "
    "`attended_at` is given); a later post of the same visit with `attended_at` publishes "
    "visit.attended; anything else is a `duplicate` and changes nothing. 201 if anything was "
    "recorded, 200 if nothing was new. Needs `contacts:write`.",
    **one_or_many_route(
        VisitRecordIn,
        VisitBatchResult,
        body="One visit record or a list of them.",
        unchanged="Nothing new was recorded.",
    ),
)
async def record_visits(
    payload: Annotated[Any, Body(include_in_schema=False)],
    write: ContactWriteDep,
    response: Response,
) -> VisitBatchResult:
    result = await record_posted(
        payload, _VISIT, write, what="visits", record=service.record_visits
    )
    if all(r.status is VisitOutcome.duplicate for r in result.results):
        response.status_code = 200
    return result
