"""HTTP route of the standby contractor's batches (JSON or CSV)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from contact_common.auth import Principal, require_scope
from contact_common.errors import PROBLEM_RESPONSES
from contact_common.service import SessionDep
from enquiry_api.common import SettingsDep
from enquiry_api.standby import service
from enquiry_api.standby.schemas import STANDBY_REQUEST_BODY, StandbyBatchResult
from enquiry_api.standby.service import read_batch

router = APIRouter(prefix="/v1/standby", tags=["standby"])


@router.post(
    "/call-records",
    response_model=StandbyBatchResult,
    summary="Post a batch of out-of-hours call records",
    description="A JSON list of records, or a `text/csv` file whose first row names the fields, "
    "at most `max_standby_batch` records (else 413). Each record is keyed by the contractor's "
    "`record_id` (per API key): sending a batch again creates nothing new. Valid records are "
    "stored even when others are not; the answer (200) lists every record, in order, as "
    "`created`, `duplicate` or `rejected` with its errors, and the enquiry opened for each "
    "follow-up. A new record publishes call.offered and call.answered (channel standby); one "
    "that `requires_follow_up` opens an enquiry (channel standby) assigned to its service area. "
    "A batch that cannot be read as a whole (not a list, not CSV, CSV without the required "
    "columns) is a 422 problem; another media type is 415. Needs `standby:write`, which allows "
    "nothing else.",
    responses={
        **{k: PROBLEM_RESPONSES[k] for k in (400, 401, 403, 413, 422)},
        415: {"description": "Neither JSON nor CSV", "content": {"application/problem+json": {}}},
    },
    openapi_extra=STANDBY_REQUEST_BODY,
)
async def post_call_records(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require_scope("standby:write"))],
    settings: SettingsDep,
) -> StandbyBatchResult:
    items = read_batch(
        request.headers.get("content-type", ""), await request.body(), settings.max_standby_batch
    )
    return await service.record_batch(session, items=items, actor=principal, settings=settings)
