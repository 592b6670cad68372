"""Open311 GeoReport v2 over enquiries: a service request is an enquiry (channel web_form)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.auth import KeyStore, Principal
from contact_common.errors import ProblemError
from contact_common.events import Channel
from enquiry_api.common import utc_now
from enquiry_api.config import Settings
from enquiry_api.enquiries import repository as enquiries
from enquiry_api.enquiries import service as enquiry_service
from enquiry_api.enquiries.models import Enquiry
from enquiry_api.open311.domain import (
    UPDATE_ACTIONS,
    Open311Error,
    Open311Service,
    catalogue_for,
    comma_list,
    date_range,
    find_service,
    read_service_request,
)
from enquiry_api.open311.schemas import request_fields, update_fields

SOURCE = "open311"
MAX_LISTED = 1000


def catalogue(settings: Settings) -> tuple[Open311Service, ...]:
    """The services residents can report to this council."""
    return catalogue_for(settings.service_areas)


def _service_name(settings: Settings, code: str | None) -> str | None:
    for service in catalogue(settings):
        if service.code == code:
            return service.name
    return None


async def create_request(
    session: AsyncSession,
    *,
    form: Mapping[str, list[str]],
    key_store: KeyStore,
    settings: Settings,
    admit: Callable[[Principal], Awaitable[None]],
) -> list[dict[str, Any]]:
    """Opens an enquiry (channel web_form) for a POST requests form; its service_request_id.

    `admit` counts the verified key against its rate limit (the key comes in the form, so the
    route's Bearer dependency that does this elsewhere never sees it).
    """
    api_key = (form.get("api_key") or [""])[-1].strip()
    principal = key_store.verify(api_key) if api_key else None
    if principal is None:
        raise Open311Error(403, "api_key is missing or not valid")
    await admit(principal)
    if not principal.allows("enquiries:write"):
        raise Open311Error(403, "this api_key may not create service requests")
    checked = read_service_request(form, catalogue(settings))
    draft = enquiry_service.EnquiryDraft(
        channel=Channel.web_form,
        service_area=checked.service.service_area,
        received_at=utc_now(),
        description=checked.description,
        source=SOURCE,
        customer_name=checked.customer_name,
        customer_email=checked.email,
        customer_phone=checked.phone,
        location_address=checked.address,
        latitude=checked.latitude,
        longitude=checked.longitude,
        service_code=checked.service.code,
        media_url=checked.media_url,
        attributes=checked.attributes or None,
        details={"service_code": checked.service.code},
    )
    try:
        enquiry = await enquiry_service.open_enquiry(
            session, draft=draft, actor=principal, settings=settings
        )
    except ProblemError as problem:
        raise Open311Error(400, problem.detail) from None
    return [
        {
            "service_request_id": enquiry.reference,
            "service_notice": f"Thank you. Your reference is {enquiry.reference}.",
            "account_id": None,
            "token": str(enquiry.id),
        }
    ]


async def _find(session: AsyncSession, service_request_id: str) -> Enquiry:
    enquiry: Enquiry | None
    try:
        enquiry = await enquiries.get(session, UUID(service_request_id))
    except ValueError:
        enquiry = await enquiries.get_by_reference(session, service_request_id)
    if enquiry is None or enquiry.source != SOURCE:
        raise Open311Error(404, f"service request '{service_request_id}' not found")
    return enquiry


async def get_request(
    session: AsyncSession, *, service_request_id: str, settings: Settings
) -> list[dict[str, Any]]:
    """One service request (as a list of one, as the spec has it)."""
    enquiry = await _find(session, service_request_id)
    return [request_fields(enquiry, _service_name(settings, enquiry.service_code))]


async def get_token(session: AsyncSession, *, token: str) -> list[dict[str, Any]]:
    """The service_request_id of a token (every request here has its id at once)."""
    enquiry = await _find(session, token)
    return [{"service_request_id": enquiry.reference, "token": str(enquiry.id)}]


async def list_requests(
    session: AsyncSession,
    *,
    service_request_id: str | None,
    service_code: str | None,
    start_date: str | None,
    end_date: str | None,
    status: str | None,
    settings: Settings,
) -> list[dict[str, Any]]:
    """Service requests, newest first: by ids, or by service code, dates and status."""
    ids = comma_list(service_request_id)
    if ids:
        # The spec: service_request_id overrides every other parameter.
        found = []
        for one in ids[:MAX_LISTED]:
            try:
                found.append(await _find(session, one))
            except Open311Error:
                continue
        rows: Sequence[Enquiry] = found
    else:
        statuses = set(comma_list(status))
        unknown = statuses - {"open", "closed"}
        if unknown:
            raise Open311Error(400, "status must be open or closed (comma-delimited)")
        codes = comma_list(service_code)
        for code in codes:
            find_service(catalogue(settings), code)
        start, end = date_range(start_date, end_date, now=utc_now())
        rows = await enquiries.list_page(
            session,
            where=enquiries.EnquiryFilter(
                source=SOURCE,
                service_codes=codes or None,
                received_from=start,
                received_to=end,
                resolved=None if len(statuses) != 1 else statuses == {"closed"},
            ),
            after=None,
            limit=MAX_LISTED,
        )
    return [request_fields(e, _service_name(settings, e.service_code)) for e in rows]


async def list_updates(
    session: AsyncSession, *, start_date: str | None, end_date: str | None
) -> list[dict[str, Any]]:
    """Status changes of Open311 requests recorded in the window (mySociety's extension)."""
    now = utc_now()
    if start_date is None and end_date is None:
        start, end = now - timedelta(days=1), now + timedelta(seconds=1)
    else:
        start, end = date_range(start_date, end_date, now=now)
    rows = await enquiries.updates_between(
        session, source=SOURCE, start=start, end=end, limit=MAX_LISTED * 10
    )
    return [
        update_fields(entry, enquiry) for entry, enquiry in rows if entry.action in UPDATE_ACTIONS
    ]
