"""HTTP route of reception visits."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import TypeAdapter

from enquiry_api.calls.schemas import one_or_many_body
from enquiry_api.common import BATCH_PROBLEMS, ContactWriteDep, one_or_many
from enquiry_api.visits import service
from enquiry_api.visits.domain import VisitOutcome
from enquiry_api.visits.schemas import VisitBatchResult, VisitRecordIn

router = APIRouter(prefix="/v1", tags=["visits"])

_VISIT = TypeAdapter(VisitRecordIn)


@router.post(
    "/visits",
    response_model=VisitBatchResult,
    status_code=201,
    summary="Record reception visits",
    description="One visit record or a list (at most `max_call_batch`, else 413), keyed by the "
    "kiosk's `visit_id`. A new visit publishes visit.arrived (and visit.attended if "
    "`attended_at` is given); a later post of the same visit with `attended_at` publishes "
    "visit.attended; anything else is a `duplicate` and changes nothing. 201 if anything was "
    "recorded, 200 if nothing was new. Needs `contacts:write`.",
    responses={
        200: {"description": "Nothing new was recorded.", "model": VisitBatchResult},
        **BATCH_PROBLEMS,
    },
    openapi_extra=one_or_many_body(VisitRecordIn, "One visit record or a list of them."),
)
async def record_visits(
    payload: Annotated[Any, Body(include_in_schema=False)],
    write: ContactWriteDep,
    response: Response,
) -> VisitBatchResult:
    records, single = one_or_many(payload, _VISIT, cap=write.settings.max_call_batch, what="visits")
    result = await service.record_visits(
        write.session, records=records, single=single, actor=write.actor, settings=write.settings
    )
    if all(r.status is VisitOutcome.duplicate for r in result.results):
        response.status_code = 200
    return result
