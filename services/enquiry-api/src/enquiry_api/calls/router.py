"""HTTP route of telephony call records."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import TypeAdapter

from enquiry_api.calls import service
from enquiry_api.calls.schemas import CallBatchResult, CallRecordIn
from enquiry_api.common import ContactWriteDep, one_or_many_route, record_posted

router = APIRouter(prefix="/v1", tags=["calls"])

_CALL = TypeAdapter(CallRecordIn)


@router.post(
    "/calls",
    summary="Record telephony calls",
    description="One call record, or a list of them (at most `max_call_batch`, else 413). Each "
    "is keyed by the telephony platform's `call_id`: records are delivered at least once, and a "
    "repeat is answered `duplicate` and changes nothing. A new call publishes call.offered and "
    "then call.answered or call.abandoned, at the times in the record, with the wait in "
    "seconds. 201 if anything was new, 200 if all were repeats. The whole request is refused "
    "(422, naming each bad field by position) if any record is invalid. Needs `contacts:write`.",
    **one_or_many_route(
        CallRecordIn,
        CallBatchResult,
        body="One call record or a list of them.",
        unchanged="Every record had been recorded before.",
    ),
)
async def record_calls(
    payload: Annotated[Any, Body(include_in_schema=False)],
    write: ContactWriteDep,
    response: Response,
) -> CallBatchResult:
    result = await record_posted(
        payload, _CALL, write, what="call records", record=service.record_calls
    )
    if result.created == 0:
        response.status_code = 200
    return result
