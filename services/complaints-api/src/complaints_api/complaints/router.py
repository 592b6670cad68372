"""HTTP routes of complaints: each reads the request and calls one service function."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel

from complaints_api.complaints import corrections, service
from complaints_api.complaints.domain import Status, phone_digits
from complaints_api.complaints.repository import ComplaintFilter
from complaints_api.complaints.schemas import (
    AcknowledgeRequest,
    CloseRequest,
    ComplaintCorrection,
    ComplaintCreate,
    ComplaintDetail,
    ComplaintPage,
    EscalateRequest,
    ExtendRequest,
    OmbudsmanDecisionRequest,
    PolicyProblem,
    RespondRequest,
    VoidRequest,
)
from complaints_api.complaints.service import Context
from contact_common.auth import Principal, require_scope, require_scope_for
from contact_common.errors import PROBLEM_JSON, PROBLEM_RESPONSES
from contact_common.events import Channel, ComplaintOutcome, ComplaintStage
from contact_common.idempotency import IDEMPOTENCY_RESPONSES, IdempotentRequest, idempotent
from contact_common.pagination import PageSize, ReceivedFrom, ReceivedTo
from contact_common.service import SessionDep, post_route

router = APIRouter(prefix="/v1/complaints", tags=["complaints"])


def _context(require: Callable[..., Any]) -> Callable[..., Any]:
    async def dependency(
        request: Request, principal: Annotated[Principal, Depends(require)]
    ) -> Context:
        return Context(
            settings=request.app.state.runtime.settings,
            recorded_by=principal.name,
            now=datetime.now(UTC),
        )

    return dependency


_read = require_scope("complaints:read")
_write = require_scope("complaints:write")
Reader = Annotated[Context, Depends(_context(_read))]
Writer = Annotated[Context, Depends(_context(_write))]
Eraser = Annotated[Context, Depends(_context(require_scope("customers:erase")))]
# Before the session in a route's parameters, so it sees the commit (contact_common.idempotency).
Idempotent = Annotated[IdempotentRequest, idempotent(_write)]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: PROBLEM_RESPONSES[code] for code in codes}


_STEP_ERRORS: dict[int | str, dict[str, Any]] = {
    **_errors(401, 403, 404),
    **IDEMPOTENCY_RESPONSES,
    409: {
        "model": PolicyProblem,
        "content": {PROBLEM_JSON: {}},
        "description": "The escalation policy does not allow this step now (or another officer "
        "changed the complaint first): the detail says where it is and `allowed_next` what may "
        "happen next. Or a request with this Idempotency-Key is still being served "
        "(idempotency-key-in-flight).",
    },
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Record a complaint",
    description="Records a complaint at stage 1, gives it a reference (CMP-year-number) and "
    "publishes `complaint.received`. The customer's details stay in this service. Send an "
    "`Idempotency-Key` to retry safely: a retry answers the first 201 again.",
    response_model=ComplaintDetail,
    responses={**_errors(401, 403, 413), **IDEMPOTENCY_RESPONSES},
)
async def create_complaint(
    body: ComplaintCreate, idempotency: Idempotent, session: SessionDep, context: Writer
) -> Response:
    created = await service.receive(session=session, context=context, request=body)
    return await idempotency.answer(
        session,
        content=created,
        status_code=status.HTTP_201_CREATED,
        headers={"Location": f"/v1/complaints/{created.id}"},
    )


async def customer_query(
    customer_email: Annotated[
        str | None,
        Query(
            max_length=320,
            pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
            description="Only this customer's, any case (needs `customers:read`).",
        ),
    ] = None,
    customer_phone: Annotated[
        str | None,
        Query(
            pattern=r"^\+?[0-9][0-9 ()\-.]{5,30}$",
            description="Only this customer's, by the last ten digits (needs `customers:read`).",
        ),
    ] = None,
    customer_uprn: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9]{1,12}$", description="Only this property's (needs `customers:read`)."
        ),
    ] = None,
) -> dict[str, str | None]:
    """The customer lookups of a list's query: personal data, so they need `customers:read`."""
    return {
        "customer_email": customer_email,
        "customer_phone_digits": phone_digits(customer_phone),
        "customer_uprn": customer_uprn,
    }


@router.get(
    "",
    summary="List and find complaints",
    description="Complaints newest received first, filtered by reference, stage, status, "
    "outcome (the latest decision), channel, service area, officer (who took any step) and "
    "received time; and, with the `customers:read` scope too, by the customer's email, phone "
    "(the last ten digits) or UPRN. Cursor pagination (keep the filters); `total=true` adds how "
    "many match on every page.",
    responses=_errors(401, 403, 422),
)
async def list_complaints(
    session: SessionDep,
    context: Reader,
    principal: Annotated[Principal, Depends(_read)],
    customer: Annotated[dict[str, str | None], Depends(customer_query)],
    reference: Annotated[
        str | None, Query(max_length=32, description="Only the complaint with this reference.")
    ] = None,
    stage: Annotated[ComplaintStage | None, Query(description="Only this stage.")] = None,
    status: Annotated[Status | None, Query(description="Only this status.")] = None,
    outcome: Annotated[
        ComplaintOutcome | None, Query(description="Only this latest decision.")
    ] = None,
    channel: Annotated[Channel | None, Query(description="Only this channel.")] = None,
    service_area: Annotated[str | None, Query(description="Only this service area.")] = None,
    officer: Annotated[
        str | None,
        Query(max_length=100, description="Only those where this officer took a step."),
    ] = None,
    received_from: ReceivedFrom = None,
    received_to: ReceivedTo = None,
    total: Annotated[bool, Query(description="Count every complaint that matches.")] = False,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
    limit: PageSize = 50,
) -> ComplaintPage:
    if any(customer.values()):
        require_scope_for(principal, "customers:read", what="Finding complaints by customer")
    where = ComplaintFilter(
        stage=stage,
        status=status,
        outcome=outcome,
        service_area=service_area,
        received_from=received_from,
        received_to=received_to,
        reference=reference,
        channel=channel,
        officer=officer,
        **customer,
    )
    return await service.list_complaints(
        session=session, context=context, where=where, cursor=cursor, limit=limit, with_total=total
    )


@router.get(
    "/{complaint_id}",
    summary="A complaint with its history",
    description="The complaint, each stage's record, its audit history and the steps the "
    "policy allows next.",
    responses=_errors(401, 403, 404, 422),
)
async def get_complaint(
    complaint_id: uuid.UUID, session: SessionDep, context: Reader
) -> ComplaintDetail:
    return await service.get(session=session, context=context, complaint_id=complaint_id)


Step = Callable[..., Awaitable[ComplaintDetail]]


def _step_route(
    path: str, name: str, step: Step, body_type: type[BaseModel], *, summary: str, description: str
) -> None:
    """Adds a lifecycle step's route: it reads the body, calls `step` and answers through the
    request's Idempotency-Key, so a retry gets the first answer."""

    async def route(
        complaint_id: uuid.UUID,
        body: BaseModel,
        idempotency: Idempotent,
        session: SessionDep,
        context: Writer,
    ) -> Response:
        updated = await step(
            session=session, context=context, complaint_id=complaint_id, request=body
        )
        return await idempotency.answer(session, content=updated)

    post_route(
        router,
        route,
        path=f"/{{complaint_id}}/{path}",
        name=name,
        body=body_type,
        summary=summary,
        description=description,
        response_model=ComplaintDetail,
        responses=_STEP_ERRORS,
    )


_step_route(
    "acknowledge",
    "acknowledge",
    service.acknowledge,
    AcknowledgeRequest,
    summary="Acknowledge at the current stage",
    description="Records the acknowledgement sent to the customer (stage 1 or 2) and publishes "
    "`complaint.acknowledged`.",
)
_step_route(
    "extend",
    "extend",
    service.extend,
    ExtendRequest,
    summary="Extend the response deadline",
    description="Once per stage, with a reason, before the stage's response and its deadline, "
    "by at most the working days the commitments policy allows at the stage (422 beyond it; 409 "
    "after the deadline or where the policy has no extension). The new deadline counts from the "
    "one it replaces and is the stage's `due_at`; `complaint.extended` carries it.",
)
_step_route(
    "respond",
    "respond",
    service.respond,
    RespondRequest,
    summary="Respond with a decision",
    description="The council's response at the current stage with its outcome (upheld, "
    "partly_upheld, not_upheld), after the acknowledgement. A stage 2 response must come from "
    "a different officer than stage 1. Publishes `complaint.responded`.",
)
_step_route(
    "escalate",
    "escalate",
    service.escalate,
    EscalateRequest,
    summary="Escalate at the customer's request",
    description="After a stage 1 response (within the escalation window, even if closed): to "
    "stage 2. After a stage 2 response: to the Ombudsman (LGSCO). Publishes "
    "`complaint.escalated`; the new stage's clocks start at `at`.",
)
_step_route(
    "close",
    "close",
    service.close,
    CloseRequest,
    summary="Close after the response",
    description="Closes a complaint the council has responded to (the customer is satisfied, "
    "or the window to escalate passed), recording who closed it. Publishes `complaint.closed`.",
)
_step_route(
    "ombudsman-decision",
    "ombudsman_decision",
    service.record_ombudsman_decision,
    OmbudsmanDecisionRequest,
    summary="Record the Ombudsman's decision",
    description="For a complaint referred to the Ombudsman: records its decision, which closes "
    "the complaint. Publishes `complaint.closed` with `ombudsman_decision`.",
)


@router.post(
    "/{complaint_id}/erase",
    summary="Erase the customer's personal data",
    description="Blanks the customer's details and every free text (description, reasons, "
    "summaries), keeps the facts for statistics, and records the erasure in the history. "
    "Needs the `customers:erase` scope; erasing twice is harmless.",
    responses=_errors(401, 403, 404, 422),
)
async def erase(complaint_id: uuid.UUID, session: SessionDep, context: Eraser) -> ComplaintDetail:
    return await service.erase_customer(session=session, context=context, complaint_id=complaint_id)


@router.patch(
    "/{complaint_id}",
    summary="Correct a complaint's received_at, channel or service area",
    description="Puts right what was mistyped when the complaint was recorded; give only the "
    "fields that change, and a `reason`. The audit history keeps the reason and each field's "
    "old and new value; a corrected received_at moves stage 1's deadlines. Publishes "
    "`complaint.corrected`: sla-monitor times it again (a breach no longer missed is "
    "withdrawn) and the figures move with it. received_at must not be in the future nor after "
    "the first step (422). Values it already has change nothing. 409 once voided.",
    response_model=ComplaintDetail,
    responses=_STEP_ERRORS,
)
async def correct(
    complaint_id: uuid.UUID, body: ComplaintCorrection, session: SessionDep, context: Writer
) -> ComplaintDetail:
    return await corrections.correct(
        session=session, context=context, complaint_id=complaint_id, request=body
    )


_step_route(
    "void",
    "void",
    corrections.void,
    VoidRequest,
    summary="Void a complaint (a duplicate, spam or a test)",
    description="Its status becomes voided at whatever stage it is: no further steps (409), "
    "its clocks are cancelled, a breach of it is withdrawn and it is removed from every "
    "figure. `duplicate_of` names the complaint a duplicate repeats. Publishes "
    "`complaint.voided`. Once only (409); a retry with the same `Idempotency-Key` gets the "
    "first answer.",
)
