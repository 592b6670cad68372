"""HTTP route of feedback scores."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from contact_common.auth import Principal, require_scope
from contact_common.errors import PROBLEM_RESPONSES
from contact_common.idempotency import IDEMPOTENCY_RESPONSES, IdempotentRequest, idempotent
from contact_common.service import SessionDep
from enquiry_api.common import SettingsDep
from enquiry_api.feedback import service
from enquiry_api.feedback.schemas import FeedbackIn, FeedbackOut

_write = require_scope("contacts:write")

router = APIRouter(prefix="/v1", tags=["feedback"])


@router.post(
    "/feedback",
    response_model=FeedbackOut,
    status_code=201,
    summary="Record a satisfaction score",
    description="A score from 1 to 5 on a contact (KPI CX02, online satisfaction). With "
    "`enquiry_id`, the enquiry's channel and service area are used. With `response_id`, a "
    "repeat is answered 200 `duplicate` and changes nothing; without one, an `Idempotency-Key` "
    "makes a retry answer the first answer. Publishes feedback.submitted. Needs "
    "`contacts:write`.",
    responses={
        200: {"description": "This response_id was recorded before.", "model": FeedbackOut},
        **{k: PROBLEM_RESPONSES[k] for k in (401, 403, 409, 413, 422)},
        **IDEMPOTENCY_RESPONSES,
    },
)
async def record_feedback(
    body: FeedbackIn,
    idempotency: Annotated[IdempotentRequest, idempotent(_write)],
    session: SessionDep,
    principal: Annotated[Principal, Depends(_write)],
    settings: SettingsDep,
) -> Response:
    result = await service.record_feedback(session, body=body, actor=principal, settings=settings)
    status_code = 200 if result.status == "duplicate" else 201
    return await idempotency.answer(session, content=result, status_code=status_code)
