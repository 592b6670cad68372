"""HTTP routes of Open311 GeoReport v2 and mySociety's servicerequestupdates extension.

Each resource is served as `.xml` and `.json`; errors are in the spec's own format
([{code, description}] or <errors><error>...), not problem+json, so that Open311 clients
(FixMyStreet among them) read them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.datastructures import UploadFile

from contact_common.errors import ProblemError
from contact_common.idempotency import HEADER, HEADER_DESCRIPTION
from contact_common.ratelimit import RETRY_AFTER_RESPONSE, enforce_rate_limit
from contact_common.service import SessionDep
from enquiry_api.common import SettingsDep
from enquiry_api.open311 import service
from enquiry_api.open311.domain import (
    Open311Error,
    check_form_text,
    check_format,
    find_service,
    w3c,
)
from enquiry_api.open311.schemas import (
    OPEN311_RESPONSES,
    POST_REQUEST_BODY,
    POST_UPDATE_BODY,
    definition_fields,
    render_error,
    render_list,
    render_object,
    service_fields,
    spec_format,
)

router = APIRouter(prefix="/open311/v2", tags=["open311"])

# Every GET answers in the format of its path's extension (XML or JSON), errors in the spec's.
_get = partial(router.get, response_class=Response, responses=OPEN311_RESPONSES)

Jurisdiction = Annotated[
    str | None, Query(description="Accepted and ignored: this endpoint serves one council.")
]


async def _answer(fmt: str, produce: Callable[[str], Awaitable[Response]]) -> Response:
    """Renders what `produce` makes, or its Open311Error in the spec's error format."""
    error_fmt = fmt if fmt in ("xml", "json") else "json"
    try:
        return await produce(check_format(fmt))
    except Open311Error as error:
        return render_error(error_fmt, error)
    except ProblemError as problem:
        if problem.status != 429:
            raise
        # Throttled: the spec's error format, with the Retry-After an HTTP client honours.
        answer = render_error(error_fmt, Open311Error(429, problem.detail))
        answer.headers.update(problem.headers or {})
        return answer


FORM_KEY_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "api_key missing, invalid or without the enquiries:write scope."},
    429: {
        **RETRY_AFTER_RESPONSE,
        **spec_format("The api_key is over its rate limit, in the spec's error format."),
    },
}
"""What a POST whose api_key comes in its form may be refused with."""


async def _answer_form(
    fmt: str,
    request: Request,
    handle: Callable[..., Awaitable[list[dict[str, Any]]]],
    *,
    root_tag: str,
    item_tag: str,
) -> Response:
    """Renders what `handle` makes of a POST form, whose api_key it checks and rate-limits."""

    async def produce(fmt: str) -> Response:
        items = await handle(
            form=await _form(request),
            key_store=request.app.state.key_store,
            admit=lambda principal: enforce_rate_limit(
                request, principal.key_id, principal.rate_limit
            ),
        )
        return render_list(fmt, root_tag, item_tag, items)

    return await _answer(fmt, produce)


async def _form(request: Request) -> dict[str, list[str]]:
    """The fields of a form-encoded (or multipart) body, each with its values in order.

    Files in a multipart body are not read: FixMyStreet uploads photos so only to a council
    that asks for them, and sends media_url links otherwise.
    """
    form: dict[str, list[str]] = {}
    try:
        async with request.form() as data:
            for name, value in data.multi_items():
                if not isinstance(value, UploadFile):
                    form.setdefault(name, []).append(value)
    except Exception:
        raise Open311Error(400, "the body must be form-encoded (GeoReport v2)") from None
    check_form_text(form)
    return form


@_get(
    "/discovery.{fmt}",
    summary="Open311 discovery",
    description="Where this Open311 endpoint is and what it speaks (GeoReport v2, XML and JSON).",
)
async def discovery(fmt: str, request: Request, settings: SettingsDep) -> Response:
    async def produce(fmt: str) -> Response:
        changeset = w3c(settings.open311_changeset)
        return render_object(
            fmt,
            "discovery",
            {
                "changeset": changeset,
                "contact": settings.open311_contact,
                "key_service": "Ask the council for an API key with the enquiries:write scope.",
                "endpoints": [
                    {
                        "specification": "http://wiki.open311.org/GeoReport_v2",
                        "url": str(request.base_url).rstrip("/") + "/open311/v2",
                        "changeset": changeset,
                        "type": "production",
                        "formats": ["text/xml", "application/json"],
                    }
                ],
            },
        )

    return await _answer(fmt, produce)


@_get(
    "/services.{fmt}",
    summary="Open311 service list",
    description="The kinds of report residents can make, with their codes and groups.",
)
async def services(
    fmt: str, settings: SettingsDep, jurisdiction_id: Jurisdiction = None
) -> Response:
    async def produce(fmt: str) -> Response:
        items = [service_fields(s) for s in service.catalogue(settings)]
        return render_list(fmt, "services", "service", items)

    return await _answer(fmt, produce)


@_get(
    "/services/{service_code}.{fmt}",
    summary="Open311 service definition",
    description="The questions (attributes) a service asks, with their datatypes and values.",
)
async def service_definition(
    service_code: str, fmt: str, settings: SettingsDep, jurisdiction_id: Jurisdiction = None
) -> Response:
    async def produce(fmt: str) -> Response:
        definition = definition_fields(find_service(service.catalogue(settings), service_code))
        return render_object(fmt, "service_definition", definition)

    return await _answer(fmt, produce)


@router.post(
    "/requests.{fmt}",
    summary="Open311: create a service request",
    description="Form-encoded, as GeoReport v2 says, with `api_key` (a key of this platform with "
    "`enquiries:write`). The request becomes an enquiry (channel web_form) assigned by its "
    "service to a service area; the answer carries its service_request_id (the enquiry's "
    "reference) and a token. Sending the same request again answers the same "
    "service_request_id without opening another enquiry, when it carries an `Idempotency-Key` "
    "header or, for clients that cannot send one, the sender's own id of the report "
    "(`attribute[external_id]` as FixMyStreet sends it, or `attribute[fixmystreet_id]`); another "
    "request under the same key is 422, and one sent while the first is served 409. Errors "
    "(400, 403, 404, 409, 422) are in the spec's format.",
    response_class=Response,
    responses={
        **OPEN311_RESPONSES,
        **FORM_KEY_RESPONSES,
        409: spec_format(
            "A request under the same key is still being served, in the spec's error format."
        ),
        422: spec_format(
            "The key (Idempotency-Key, or the sender's report id) was used for "
            "another request, in the spec's error format."
        ),
    },
    openapi_extra=POST_REQUEST_BODY,
)
async def create_request(
    fmt: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: Annotated[
        str | None, Header(alias=HEADER, description=HEADER_DESCRIPTION)
    ] = None,
) -> Response:
    idempotency = service.Idempotency(
        store=request.app.state.idempotency,
        factory=request.app.state.runtime.session_factory,
        header_key=idempotency_key,
    )
    return await _answer_form(
        fmt,
        request,
        partial(service.create_request, session, settings=settings, idempotency=idempotency),
        root_tag="service_requests",
        item_tag="request",
    )


@_get(
    "/requests.{fmt}",
    summary="Open311: service requests",
    description="Requests made through Open311, newest first: by `service_request_id` (comma "
    "list, overriding the rest), or by `service_code`, `status` (open, closed) and "
    "`start_date`/`end_date` (W3C datetimes, the last 90 days by default, 90 days at most). "
    "Nothing about the reporter is returned.",
)
async def list_requests(
    fmt: str,
    session: SessionDep,
    settings: SettingsDep,
    service_request_id: Annotated[str | None, Query(description="Comma-delimited ids.")] = None,
    service_code: Annotated[str | None, Query(description="Comma-delimited codes.")] = None,
    start_date: Annotated[str | None, Query(description="W3C datetime, inclusive.")] = None,
    end_date: Annotated[str | None, Query(description="W3C datetime, exclusive.")] = None,
    status: Annotated[str | None, Query(description="open, closed, or both.")] = None,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    async def produce(fmt: str) -> Response:
        items = await service.list_requests(
            session,
            service_request_id=service_request_id,
            service_code=service_code,
            start_date=start_date,
            end_date=end_date,
            status=status,
            settings=settings,
        )
        return render_list(fmt, "service_requests", "request", items)

    return await _answer(fmt, produce)


@_get(
    "/requests/{service_request_id}.{fmt}",
    summary="Open311: one service request",
    description="The request with this service_request_id (the enquiry's reference, or its token).",
)
async def read_request(
    service_request_id: str,
    fmt: str,
    session: SessionDep,
    settings: SettingsDep,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    async def produce(fmt: str) -> Response:
        items = await service.get_request(
            session, service_request_id=service_request_id, settings=settings
        )
        return render_list(fmt, "service_requests", "request", items)

    return await _answer(fmt, produce)


@_get(
    "/tokens/{token}.{fmt}",
    summary="Open311: the service_request_id of a token",
    description="Every request here gets its service_request_id at once; the token (the "
    "enquiry's id) is answered too, for clients that ask.",
)
async def read_token(
    token: str, fmt: str, session: SessionDep, jurisdiction_id: Jurisdiction = None
) -> Response:
    async def produce(fmt: str) -> Response:
        items = await service.get_token(session, token=token)
        return render_list(fmt, "service_requests", "request", items)

    return await _answer(fmt, produce)


@_get(
    "/servicerequestupdates.{fmt}",
    summary="Open311 (mySociety extension): updates",
    description="Updates of Open311 requests recorded between `start_date` and `end_date` "
    "(W3C datetimes; the last day by default, 90 days at most): the council's steps, and the "
    "updates posted to POST servicerequestupdates, each with the update_id its POST answered, "
    "its updated_datetime and what its writer said (`description`, first `media_url`). "
    "`status` is the request's status after the update, in FixMyStreet's states: open, "
    "investigating, in_progress, action_scheduled, fixed. A reopening caused by a posted update "
    "is not listed apart from it. `api_key` is accepted and not needed: no names, emails or "
    "phone numbers are returned.",
)
async def service_request_updates(
    fmt: str,
    session: SessionDep,
    start_date: Annotated[str | None, Query(description="W3C datetime, inclusive.")] = None,
    end_date: Annotated[str | None, Query(description="W3C datetime, exclusive.")] = None,
    api_key: Annotated[str | None, Query(description="Accepted and ignored.")] = None,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    async def produce(fmt: str) -> Response:
        items = await service.list_updates(session, start_date=start_date, end_date=end_date)
        return render_list(fmt, "service_requests_updates", "request_update", items)

    return await _answer(fmt, produce)


@router.post(
    "/servicerequestupdates.{fmt}",
    summary="Open311 (mySociety extension): post an update on a request",
    description="What FixMyStreet sends when a resident comments on a report it sent here: "
    "form-encoded with `api_key` (a key with `enquiries:write`), `service_request_id` (the "
    "reference or token), `update_id` (the sender's id of the update), `updated_datetime`, "
    "`status` and `description`, optional `first_name`, `last_name`, `email`, `phone` and "
    "`media_url` (once per photo); other fields FixMyStreet may add are accepted and not kept. "
    "The update goes on the enquiry's history (`update_received`) and publishes "
    "`enquiry.update_received`; its personal data is kept for staff and erased with the "
    "customer's. OPEN or REOPEN on a resolved enquiry, made after its resolution, reopens it "
    "(`enquiry.reopened`, a new response clock); FIXED or CLOSED resolves nothing, the council "
    "does. Answers the update_id (`<service_request_updates><request_update><update_id>`, or "
    "`[{update_id}]`), which GET servicerequestupdates lists it under. Posting an update_id "
    "again answers the same update_id and records nothing; a different update under it is 409. "
    "Errors are in the spec's format.",
    response_class=Response,
    responses={
        **OPEN311_RESPONSES,
        **FORM_KEY_RESPONSES,
        404: spec_format(
            "No service request made through Open311 has this "
            "service_request_id, in the spec's error format."
        ),
        409: spec_format(
            "The sender posted another update under this update_id (different "
            "words, status, time or writer, or on another request), in the spec's error format."
        ),
    },
    openapi_extra=POST_UPDATE_BODY,
)
async def post_service_request_update(
    fmt: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    # mySociety's root element; FixMyStreet reads the request_update in it.
    return await _answer_form(
        fmt,
        request,
        partial(service.post_update, session, settings=settings),
        root_tag="service_request_updates",
        item_tag="request_update",
    )
