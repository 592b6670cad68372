"""Open311 GeoReport v2 over enquiries: a service request is an enquiry (channel web_form)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_common.auth import KeyStore, Principal
from contact_common.errors import ProblemError
from contact_common.events import Channel, UpdateStatus
from contact_common.idempotency import (
    Claim,
    IdempotencyStore,
    KeyScope,
    StoredAnswer,
    fingerprint,
)
from enquiry_api.common import utc_now
from enquiry_api.config import Settings
from enquiry_api.enquiries import repository as enquiries
from enquiry_api.enquiries import service as enquiry_service
from enquiry_api.enquiries.domain import phone_digits
from enquiry_api.enquiries.models import Enquiry
from enquiry_api.open311 import repository
from enquiry_api.open311.domain import (
    Open311Error,
    Open311Service,
    RequestKey,
    ServiceRequestForm,
    ServiceRequestUpdateForm,
    UpdateContent,
    catalogue_for,
    changed_fields,
    comma_list,
    date_range,
    find_service,
    is_listed_update,
    read_service_request,
    read_service_request_update,
    update_reopens,
)
from enquiry_api.open311.models import ResidentUpdate
from enquiry_api.open311.schemas import request_fields, update_fields

SOURCE = "open311"
MAX_LISTED = 1000


def catalogue(settings: Settings) -> tuple[Open311Service, ...]:
    """The services residents can report to this council."""
    return catalogue_for(settings.service_areas)


@dataclass(frozen=True, slots=True)
class Idempotency:
    """Where an Open311 request's idempotency key is claimed, and the key the sender gave."""

    store: IdempotencyStore
    factory: async_sessionmaker[AsyncSession]
    header_key: str | None = None


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
    idempotency: Idempotency,
) -> list[dict[str, Any]]:
    """Opens an enquiry (channel web_form) for a POST requests form; its service_request_id.

    The sender's Idempotency-Key, or else its own id of the report (FixMyStreet's
    attribute[external_id] or attribute[fixmystreet_id]), makes a resend answer the first
    service_request_id rather than open a second enquiry.
    """
    principal = await _sender(form, key_store=key_store, admit=admit, may="create service requests")
    checked = read_service_request(form, catalogue(settings))
    key = RequestKey.of(form, header=idempotency.header_key)
    claim: Claim | None = None
    if key is not None:
        scope = KeyScope(principal.key_id, "POST", "/open311/v2/requests", key)
        outcome = await _claim(idempotency, scope=scope, form=form)
        if isinstance(outcome, StoredAnswer):
            answered: list[dict[str, Any]] = json.loads(outcome.body)
            return answered
        claim = outcome
    try:
        items = await _open_request(
            session, checked=checked, principal=principal, settings=settings
        )
        if claim is not None:
            await idempotency.store.complete(
                session, claim, StoredAnswer(200, {}, json.dumps(items).encode())
            )
    except BaseException:
        if claim is not None:
            await idempotency.store.release(idempotency.factory, claim)
        raise
    return items


async def _claim(
    idempotency: Idempotency, *, scope: KeyScope, form: Mapping[str, list[str]]
) -> Claim | StoredAnswer:
    """Claims the request's key; its refusals in the spec's error format."""
    try:
        return await idempotency.store.claim(
            idempotency.factory, scope=scope, fingerprint=fingerprint(dict(form))
        )
    except ProblemError as problem:
        raise Open311Error(problem.status, problem.detail) from None


async def _open_request(
    session: AsyncSession,
    *,
    checked: ServiceRequestForm,
    principal: Principal,
    settings: Settings,
) -> list[dict[str, Any]]:
    """Opens the enquiry of a checked service request; the answer's items."""
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


async def _sender(
    form: Mapping[str, list[str]],
    *,
    key_store: KeyStore,
    admit: Callable[[Principal], Awaitable[None]],
    may: str,
) -> Principal:
    """The key in a POST form, verified, admitted and allowed to write, or the spec's 403.

    `admit` counts the verified key against its rate limit (the key comes in the form, so the
    route's Bearer dependency that does this elsewhere never sees it).
    """
    api_key = (form.get("api_key") or [""])[-1].strip()
    principal = key_store.verify(api_key) if api_key else None
    if principal is None:
        raise Open311Error(403, "api_key is missing or not valid")
    await admit(principal)
    if not principal.allows("enquiries:write"):
        raise Open311Error(403, f"this api_key may not {may}")
    return principal


async def _find(
    session: AsyncSession, service_request_id: str, *, for_update: bool = False
) -> Enquiry:
    enquiry: Enquiry | None
    try:
        token = UUID(service_request_id)
    except ValueError:
        enquiry = await enquiries.get_by_reference(
            session, service_request_id, for_update=for_update
        )
    else:
        enquiry = await enquiries.get(session, token, for_update=for_update)
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
    listed = [(e, enquiry) for e, enquiry in rows if is_listed_update(e.action, e.details)]
    posted = await repository.by_history(session, [entry.id for entry, _ in listed])
    return [update_fields(entry, enquiry, posted.get(entry.id)) for entry, enquiry in listed]


async def post_update(
    session: AsyncSession,
    *,
    form: Mapping[str, list[str]],
    key_store: KeyStore,
    settings: Settings,
    admit: Callable[[Principal], Awaitable[None]],
) -> list[dict[str, Any]]:
    """Records an update posted on a service request (mySociety's extension); its update_id.

    Idempotent per sender (API key) and the sender's update_id: a retry answers the update_id
    of the first post and records nothing; a different update under that update_id is 409.
    Every check comes before the first write: an Open311Error is answered, not raised, so the
    request's transaction commits whatever was written before it.
    """
    principal = await _sender(
        form, key_store=key_store, admit=admit, may="post service request updates"
    )
    now = utc_now()
    posted = read_service_request_update(
        form, now=now, skew=timedelta(seconds=settings.clock_skew_seconds)
    )
    # Locked: two posts on one request (a retry racing the first) take their turns.
    enquiry = await _find(session, posted.service_request_id, for_update=True)
    recorded = await repository.get_by_sender(
        session, sender_key_id=principal.key_id, sender_update_id=posted.update_id
    )
    if recorded is None:
        content = posted.content
        reopens = update_reopens(
            content.status,
            enquiry_status=enquiry.status,
            resolved_at=enquiry.resolved_at,
            updated_at=content.updated_at,
        )
        new_id = await repository.insert_new(
            session, _row(posted, enquiry=enquiry, sender=principal, reopens=reopens, now=now)
        )
        if new_id is not None:
            entry = await enquiry_service.receive_update(
                session,
                enquiry=enquiry,
                status=content.status,
                updated_at=content.updated_at,
                reopens=reopens,
                sender_update_id=posted.update_id,
                actor=principal,
                settings=settings,
            )
            await repository.link_history(session, update_id=new_id, history_id=entry.id)
            return [{"update_id": str(entry.id)}]
        # Posted meanwhile on another request, and committed: judged like any second post.
        recorded = await repository.get_by_sender(
            session, sender_key_id=principal.key_id, sender_update_id=posted.update_id
        )
        assert recorded is not None
    return [{"update_id": _replayed(recorded, posted=posted, enquiry=enquiry)}]


def _row(
    posted: ServiceRequestUpdateForm,
    *,
    enquiry: Enquiry,
    sender: Principal,
    reopens: bool,
    now: datetime,
) -> dict[str, Any]:
    content = posted.content
    return {
        "enquiry_id": enquiry.id,
        "sender_key_id": sender.key_id,
        "sender_update_id": posted.update_id,
        "history_id": None,
        "status": content.status.value,
        "occurred_at": content.updated_at,
        "reopened": reopens,
        "description": content.description,
        "name": content.name,
        "email": content.email,
        "phone": content.phone,
        "phone_digits": phone_digits(content.phone),
        "media_urls": list(content.media_urls) or None,
        "recorded_at": now,
        "erased_at": None,
    }


def _replayed(
    recorded: ResidentUpdate, *, posted: ServiceRequestUpdateForm, enquiry: Enquiry
) -> str:
    """The update_id a second post of an update answers, or the 409 if it is another update."""
    prefix = f"update_id '{posted.update_id}' was posted before"
    if recorded.enquiry_id != enquiry.id:
        raise Open311Error(
            409,
            f"{prefix} on another service request; an update_id names one update. "
            "Post a new update under a new update_id.",
        )
    was = UpdateContent(
        status=UpdateStatus(recorded.status),
        updated_at=recorded.occurred_at,
        description=recorded.description,
        name=recorded.name,
        email=recorded.email,
        phone=recorded.phone,
        media_urls=tuple(recorded.media_urls or ()),
    )
    changed = changed_fields(was, posted.content, erased=recorded.erased_at is not None)
    if changed:
        raise Open311Error(
            409,
            f"{prefix} with a different " + ", ".join(changed) + "; an update cannot be "
            "changed once posted. Post a new update under a new update_id.",
        )
    assert recorded.history_id is not None  # set in the transaction that inserted it
    return str(recorded.history_id)
