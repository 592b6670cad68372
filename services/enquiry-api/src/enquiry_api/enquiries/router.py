"""HTTP routes of enquiries: create, read with history, list, and the lifecycle steps."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.auth import Principal, require_scope, require_scope_for
from contact_common.errors import PROBLEM_RESPONSES
from contact_common.events import Channel, StaffId
from contact_common.idempotency import IDEMPOTENCY_RESPONSES, IdempotentRequest, idempotent
from contact_common.pagination import PageSize, ReceivedFrom, ReceivedTo
from contact_common.service import SessionDep, post_route
from enquiry_api.common import Email, Phone, SettingsDep, Uprn
from enquiry_api.config import Settings
from enquiry_api.enquiries import corrections, service
from enquiry_api.enquiries.domain import EnquiryStatus, phone_digits
from enquiry_api.enquiries.models import Enquiry
from enquiry_api.enquiries.repository import EnquiryFilter
from enquiry_api.enquiries.schemas import (
    AcknowledgeRequest,
    AssignRequest,
    EnquiryCorrection,
    EnquiryCreate,
    EnquiryDetail,
    EnquiryOut,
    EnquiryPage,
    ReopenRequest,
    ResolveRequest,
    RespondRequest,
    VoidRequest,
    draft_of,
    enquiry_detail,
    enquiry_out,
)

router = APIRouter(prefix="/v1/enquiries", tags=["enquiries"])


@dataclass(frozen=True, slots=True)
class CustomerQuery:
    """The customer lookups of a list: personal data, so they need `customers:read`."""

    email: str | None = None
    phone_digits: str | None = None
    uprn: str | None = None

    @property
    def given(self) -> bool:
        """True if any lookup by customer is asked for."""
        return any((self.email, self.phone_digits, self.uprn))


async def customer_query(
    customer_email: Annotated[
        Email | None, Query(description="Only this customer's (needs `customers:read`).")
    ] = None,
    customer_phone: Annotated[
        Phone | None,
        Query(description="Only this customer's, by the last ten digits (needs `customers:read`)."),
    ] = None,
    customer_uprn: Annotated[
        Uprn | None, Query(description="Only this property's (needs `customers:read`).")
    ] = None,
) -> CustomerQuery:
    """The customer lookups of a list's query."""
    return CustomerQuery(customer_email, phone_digits(customer_phone), customer_uprn)


Reader = Annotated[Principal, Depends(require_scope("enquiries:read"))]
_write = require_scope("enquiries:write")
Writer = Annotated[Principal, Depends(_write)]
# Before the session in a route's parameters, so it sees the commit (contact_common.idempotency).
Idempotent = Annotated[IdempotentRequest, idempotent(_write)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    **{k: PROBLEM_RESPONSES[k] for k in (401, 403, 409, 413, 422)},
    **IDEMPOTENCY_RESPONSES,
}
_STEP_ERRORS: dict[int | str, dict[str, Any]] = {
    **{k: PROBLEM_RESPONSES[k] for k in (401, 403, 404, 409, 422)},
    **IDEMPOTENCY_RESPONSES,
}


@router.post(
    "",
    status_code=201,
    response_model=EnquiryOut,
    summary="Record an enquiry",
    description="Records an enquiry on any channel and gives it a human reference "
    "(ENQ-2026-000123). Publishes enquiry.opened. Needs `enquiries:write`. Send an "
    "`Idempotency-Key` to retry safely: a retry answers the first 201 again.",
    responses=_ERRORS,
)
async def create_enquiry(
    body: EnquiryCreate,
    idempotency: Idempotent,
    session: SessionDep,
    principal: Writer,
    settings: SettingsDep,
) -> Response:
    enquiry = await service.open_enquiry(
        session, draft=draft_of(body), actor=principal, settings=settings
    )
    return await idempotency.answer(
        session,
        content=enquiry_out(enquiry, settings),
        status_code=201,
        headers={"Location": f"/v1/enquiries/{enquiry.id}"},
    )


@router.get(
    "",
    response_model=EnquiryPage,
    summary="List and find enquiries",
    description="Enquiries, newest received first, narrowed by reference, channel, service "
    "area, status, assignee and received dates; and, with the `customers:read` scope too, by "
    "the customer's email (any case), phone (the last ten digits) or UPRN. Pass `next_cursor` "
    "back as `cursor` for the next page (with the same filters); `total=true` adds how many "
    "match on every page. Needs `enquiries:read`.",
    responses={k: PROBLEM_RESPONSES[k] for k in (401, 403, 422)},
)
async def list_enquiries(
    session: SessionDep,
    principal: Reader,
    settings: SettingsDep,
    customer: Annotated[CustomerQuery, Depends(customer_query)],
    reference: Annotated[
        str | None, Query(max_length=32, description="Only the enquiry with this reference.")
    ] = None,
    channel: Annotated[Channel | None, Query(description="Only this channel.")] = None,
    service_area: Annotated[str | None, Query(description="Only this service area.")] = None,
    status: Annotated[EnquiryStatus | None, Query(description="Only this status.")] = None,
    assignee: Annotated[
        StaffId | None, Query(description="Only those assigned to this officer (staff id).")
    ] = None,
    received_from: ReceivedFrom = None,
    received_to: ReceivedTo = None,
    total: Annotated[
        bool, Query(description="Count every enquiry that matches (one more query).")
    ] = False,
    limit: PageSize = 50,
    cursor: Annotated[str | None, Query(description="From a previous page's next_cursor.")] = None,
) -> EnquiryPage:
    if customer.given:
        require_scope_for(principal, "customers:read", what="Finding enquiries by customer")
    items, next_cursor, count = await service.list_enquiries(
        session,
        where=EnquiryFilter(
            references=[reference] if reference else None,
            channel=channel.value if channel else None,
            service_area=service_area,
            status=status.value if status else None,
            assignee_id=assignee,
            received_from=received_from,
            received_to=received_to,
            customer_email=customer.email,
            customer_phone_digits=customer.phone_digits,
            customer_uprn=customer.uprn,
        ),
        cursor=cursor,
        limit=limit,
        with_total=total,
    )
    return EnquiryPage(
        items=[enquiry_out(e, settings) for e in items], next_cursor=next_cursor, total=count
    )


@router.get(
    "/{enquiry_id}",
    response_model=EnquiryDetail,
    summary="Read an enquiry with its history",
    description="The enquiry, what is allowed next, and its full audit history: every step, "
    "who took it (API key id and name), when it happened and when it was recorded, and what "
    "each update posted through Open311 said and who wrote it. Needs `enquiries:read`.",
    responses={k: PROBLEM_RESPONSES[k] for k in (401, 403, 404, 422)},
)
async def read_enquiry(
    enquiry_id: UUID, session: SessionDep, principal: Reader, settings: SettingsDep
) -> EnquiryDetail:
    enquiry, history, updates = await service.get_enquiry(session, enquiry_id=enquiry_id)
    return enquiry_detail(enquiry, history, updates, settings=settings)


Step = Callable[..., Awaitable[Enquiry]]


class _Take(Protocol):
    """A step as a route takes it: the enquiry, the request's body, who and with what settings."""

    def __call__(
        self,
        session: AsyncSession,
        *,
        enquiry_id: UUID,
        body: Any,
        actor: Principal,
        settings: Settings,
    ) -> Awaitable[Enquiry]: ...


def _staff_step(step: Step, *fields: str) -> _Take:
    """Takes `step` with the body's `at` and `officer_id`, and its `fields` by name."""

    async def take(
        session: AsyncSession,
        *,
        enquiry_id: UUID,
        body: Any,
        actor: Principal,
        settings: Settings,
    ) -> Enquiry:
        return await step(
            session,
            enquiry_id=enquiry_id,
            **{name: getattr(body, name) for name in fields},
            at=body.at,
            actor=actor,
            officer_id=body.officer_id,
            settings=settings,
        )

    return take


async def _void(
    session: AsyncSession,
    *,
    enquiry_id: UUID,
    body: VoidRequest,
    actor: Principal,
    settings: Settings,
) -> Enquiry:
    return await corrections.void(
        session,
        enquiry_id=enquiry_id,
        reason_code=body.reason_code,
        reason=body.reason,
        duplicate_of=body.duplicate_of,
        actor=actor,
    )


def _step_route(
    path: str,
    name: str,
    take: _Take,
    body_type: type[BaseModel],
    *,
    optional_body: bool,
    summary: str,
    description: str,
) -> None:
    """Adds a lifecycle step's route: it reads the body (its defaults if `optional_body` and none
    was sent), takes the step and answers through the request's Idempotency-Key, so a retry gets
    the first answer."""

    async def route(
        enquiry_id: UUID,
        idempotency: Idempotent,
        session: SessionDep,
        principal: Writer,
        settings: SettingsDep,
        body: BaseModel | None,
    ) -> Response:
        enquiry = await take(
            session,
            enquiry_id=enquiry_id,
            body=body or body_type(),
            actor=principal,
            settings=settings,
        )
        return await idempotency.answer(session, content=enquiry_out(enquiry, settings))

    route.__defaults__ = (None,) if optional_body else None  # the body is optional or required
    post_route(
        router,
        route,
        path=f"/{{enquiry_id}}/{path}",
        name=name,
        body=body_type | None if optional_body else body_type,
        response_model=EnquiryOut,
        summary=summary,
        description=description,
        responses=_STEP_ERRORS,
    )


_step_route(
    "acknowledge",
    "acknowledge_enquiry",
    _staff_step(service.acknowledge),
    AcknowledgeRequest,
    optional_body=True,
    summary="Acknowledge an enquiry",
    description="Allowed once, before a response. Publishes enquiry.acknowledged. 409 says the "
    "current status and what is allowed next. Needs `enquiries:write`.",
)
_step_route(
    "assign",
    "assign_enquiry",
    _staff_step(service.assign, "service_area", "assignee_id"),
    AssignRequest,
    optional_body=False,
    summary="Assign an enquiry to a service area or officer",
    description="Allowed any time before it is resolved. Handing it to another service area is "
    "a hand-off (no first-point resolution after it). Publishes enquiry.assigned. Needs "
    "`enquiries:write`.",
)
_step_route(
    "respond",
    "respond_to_enquiry",
    _staff_step(service.respond),
    RespondRequest,
    optional_body=True,
    summary="Record a response to an enquiry",
    description="A substantive response was sent; once per round (again after a reopen). "
    "Publishes enquiry.responded. Needs `enquiries:write`.",
)
_step_route(
    "resolve",
    "resolve_enquiry",
    _staff_step(service.resolve, "first_point"),
    ResolveRequest,
    optional_body=True,
    summary="Resolve an enquiry",
    description="Allowed from any unresolved status. `first_point` is refused (409) once the "
    "enquiry was handed to another service area or reopened. Publishes enquiry.resolved. Needs "
    "`enquiries:write`.",
)
_step_route(
    "reopen",
    "reopen_enquiry",
    _staff_step(service.reopen),
    ReopenRequest,
    optional_body=True,
    summary="Reopen a resolved enquiry",
    description="Only a resolved enquiry can be reopened; its response clock starts again as a "
    "new clock. Publishes enquiry.reopened with reopen_count. Needs `enquiries:write`.",
)


@router.patch(
    "/{enquiry_id}",
    response_model=EnquiryOut,
    summary="Correct an enquiry's received_at, channel or service area",
    description="Puts right what was mistyped when the enquiry was recorded; give only the "
    "fields that change, and a `reason`. The audit history keeps the reason and each field's "
    "old and new value. Publishes enquiry.corrected: its commitments are timed again from the "
    "corrected facts (a breach no longer missed is withdrawn) and the figures move with it. "
    "received_at must not be in the future nor after the enquiry's first step (422). Values it "
    "already has change nothing. 409 once voided. Needs `enquiries:write`.",
    responses=_STEP_ERRORS,
)
async def correct_enquiry(
    enquiry_id: UUID,
    body: EnquiryCorrection,
    session: SessionDep,
    principal: Writer,
    settings: SettingsDep,
) -> EnquiryOut:
    enquiry = await corrections.correct(
        session,
        enquiry_id=enquiry_id,
        received_at=body.received_at,
        channel=body.channel,
        service_area=body.service_area,
        reason=body.reason,
        actor=principal,
        settings=settings,
    )
    return enquiry_out(enquiry, settings)


_step_route(
    "void",
    "void_enquiry",
    _void,
    VoidRequest,
    optional_body=False,
    summary="Void an enquiry (a duplicate, spam or a test)",
    description="The enquiry's status becomes voided: it takes no further steps (409), its "
    "clocks are cancelled, a breach of it is withdrawn and it is removed from every figure. "
    "`duplicate_of` names the enquiry a duplicate repeats. Publishes enquiry.voided. Once "
    "only (409); a retry with the same `Idempotency-Key` gets the first answer. Needs "
    "`enquiries:write`.",
)
