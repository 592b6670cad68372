"""HTTP routes of enquiries: create, read with history, list, and the lifecycle steps."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response

from contact_common.auth import Principal, require_scope
from contact_common.errors import PROBLEM_RESPONSES
from contact_common.events import Channel
from contact_common.instants import Instant
from contact_common.service import SessionDep
from enquiry_api.common import SettingsDep
from enquiry_api.enquiries import service
from enquiry_api.enquiries.domain import EnquiryStatus
from enquiry_api.enquiries.repository import EnquiryFilter
from enquiry_api.enquiries.schemas import (
    AcknowledgeRequest,
    AssignRequest,
    EnquiryCreate,
    EnquiryDetail,
    EnquiryOut,
    EnquiryPage,
    ReopenRequest,
    ResolveRequest,
    RespondRequest,
    draft_of,
    enquiry_detail,
    enquiry_out,
)

router = APIRouter(prefix="/v1/enquiries", tags=["enquiries"])

Reader = Annotated[Principal, Depends(require_scope("enquiries:read"))]
Writer = Annotated[Principal, Depends(require_scope("enquiries:write"))]

_ERRORS: dict[int | str, dict[str, Any]] = {k: PROBLEM_RESPONSES[k] for k in (401, 403, 413, 422)}
_STEP_ERRORS: dict[int | str, dict[str, Any]] = {
    k: PROBLEM_RESPONSES[k] for k in (401, 403, 404, 409, 422)
}


@router.post(
    "",
    status_code=201,
    response_model=EnquiryOut,
    summary="Record an enquiry",
    description="Records an enquiry on any channel and gives it a human reference "
    "(ENQ-2026-000123). Publishes enquiry.opened. Needs `enquiries:write`.",
    responses=_ERRORS,
)
async def create_enquiry(
    body: EnquiryCreate,
    session: SessionDep,
    principal: Writer,
    settings: SettingsDep,
    response: Response,
) -> EnquiryOut:
    enquiry = await service.open_enquiry(
        session, draft=draft_of(body), actor=principal, settings=settings
    )
    response.headers["Location"] = f"/v1/enquiries/{enquiry.id}"
    return enquiry_out(enquiry)


@router.get(
    "",
    response_model=EnquiryPage,
    summary="List enquiries",
    description="Enquiries, newest received first, narrowed by channel, service area, status "
    "and received dates; pass `next_cursor` back as `cursor` for the next page. Needs "
    "`enquiries:read`.",
    responses={k: PROBLEM_RESPONSES[k] for k in (401, 403, 422)},
)
async def list_enquiries(
    session: SessionDep,
    principal: Reader,
    channel: Annotated[Channel | None, Query(description="Only this channel.")] = None,
    service_area: Annotated[str | None, Query(description="Only this service area.")] = None,
    status: Annotated[EnquiryStatus | None, Query(description="Only this status.")] = None,
    received_from: Annotated[
        Instant | None, Query(description="Received at or after (ISO 8601 with offset).")
    ] = None,
    received_to: Annotated[
        Instant | None, Query(description="Received before (ISO 8601 with offset).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size, at most 200.")] = 50,
    cursor: Annotated[str | None, Query(description="From a previous page's next_cursor.")] = None,
) -> EnquiryPage:
    items, next_cursor = await service.list_enquiries(
        session,
        where=EnquiryFilter(
            channel=channel.value if channel else None,
            service_area=service_area,
            status=status.value if status else None,
            received_from=received_from,
            received_to=received_to,
        ),
        cursor=cursor,
        limit=limit,
    )
    return EnquiryPage(items=[enquiry_out(e) for e in items], next_cursor=next_cursor)


@router.get(
    "/{enquiry_id}",
    response_model=EnquiryDetail,
    summary="Read an enquiry with its history",
    description="The enquiry, what is allowed next, and its full audit history: every step, "
    "who took it (API key id and name), when it happened and when it was recorded, and what "
    "each update posted through Open311 said and who wrote it. Needs `enquiries:read`.",
    responses={k: PROBLEM_RESPONSES[k] for k in (401, 403, 404, 422)},
)
async def read_enquiry(enquiry_id: UUID, session: SessionDep, principal: Reader) -> EnquiryDetail:
    enquiry, history, updates = await service.get_enquiry(session, enquiry_id=enquiry_id)
    return enquiry_detail(enquiry, history, updates)


@router.post(
    "/{enquiry_id}/acknowledge",
    response_model=EnquiryOut,
    summary="Acknowledge an enquiry",
    description="Allowed once, before a response. Publishes enquiry.acknowledged. 409 says the "
    "current status and what is allowed next. Needs `enquiries:write`.",
    responses=_STEP_ERRORS,
)
async def acknowledge_enquiry(
    enquiry_id: UUID,
    session: SessionDep,
    principal: Writer,
    settings: SettingsDep,
    body: AcknowledgeRequest | None = None,
) -> EnquiryOut:
    body = body or AcknowledgeRequest()
    enquiry = await service.acknowledge(
        session, enquiry_id=enquiry_id, at=body.at, actor=principal, settings=settings
    )
    return enquiry_out(enquiry)


@router.post(
    "/{enquiry_id}/assign",
    response_model=EnquiryOut,
    summary="Assign an enquiry to a service area or officer",
    description="Allowed any time before it is resolved. Handing it to another service area is "
    "a hand-off (no first-point resolution after it). Publishes enquiry.assigned. Needs "
    "`enquiries:write`.",
    responses=_STEP_ERRORS,
)
async def assign_enquiry(
    enquiry_id: UUID,
    body: AssignRequest,
    session: SessionDep,
    principal: Writer,
    settings: SettingsDep,
) -> EnquiryOut:
    enquiry = await service.assign(
        session,
        enquiry_id=enquiry_id,
        service_area=body.service_area,
        assignee_id=body.assignee_id,
        at=body.at,
        actor=principal,
        settings=settings,
    )
    return enquiry_out(enquiry)


@router.post(
    "/{enquiry_id}/respond",
    response_model=EnquiryOut,
    summary="Record a response to an enquiry",
    description="A substantive response was sent; once per round (again after a reopen). "
    "Publishes enquiry.responded. Needs `enquiries:write`.",
    responses=_STEP_ERRORS,
)
async def respond_to_enquiry(
    enquiry_id: UUID,
    session: SessionDep,
    principal: Writer,
    settings: SettingsDep,
    body: RespondRequest | None = None,
) -> EnquiryOut:
    body = body or RespondRequest()
    enquiry = await service.respond(
        session, enquiry_id=enquiry_id, at=body.at, actor=principal, settings=settings
    )
    return enquiry_out(enquiry)


@router.post(
    "/{enquiry_id}/resolve",
    response_model=EnquiryOut,
    summary="Resolve an enquiry",
    description="Allowed from any unresolved status. `first_point` is refused (409) once the "
    "enquiry was handed to another service area or reopened. Publishes enquiry.resolved. Needs "
    "`enquiries:write`.",
    responses=_STEP_ERRORS,
)
async def resolve_enquiry(
    enquiry_id: UUID,
    session: SessionDep,
    principal: Writer,
    settings: SettingsDep,
    body: ResolveRequest | None = None,
) -> EnquiryOut:
    body = body or ResolveRequest()
    enquiry = await service.resolve(
        session,
        enquiry_id=enquiry_id,
        first_point=body.first_point,
        at=body.at,
        actor=principal,
        settings=settings,
    )
    return enquiry_out(enquiry)


@router.post(
    "/{enquiry_id}/reopen",
    response_model=EnquiryOut,
    summary="Reopen a resolved enquiry",
    description="Only a resolved enquiry can be reopened; its response clock starts again as a "
    "new clock. Publishes enquiry.reopened with reopen_count. Needs `enquiries:write`.",
    responses=_STEP_ERRORS,
)
async def reopen_enquiry(
    enquiry_id: UUID,
    session: SessionDep,
    principal: Writer,
    settings: SettingsDep,
    body: ReopenRequest | None = None,
) -> EnquiryOut:
    body = body or ReopenRequest()
    enquiry = await service.reopen(
        session, enquiry_id=enquiry_id, at=body.at, actor=principal, settings=settings
    )
    return enquiry_out(enquiry)
