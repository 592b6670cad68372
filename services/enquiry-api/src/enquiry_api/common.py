"""Small pieces every domain of enquiry-api shares: request context, field problems, types."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.auth import Principal, require_scope
from contact_common.errors import PROBLEM_RESPONSES, ProblemError, invalid_field, invalid_fields
from contact_common.service import SessionDep
from contact_common.text import SingleLine, Storable
from enquiry_api.config import Settings

SOURCE = "/enquiry-api"

T = TypeVar("T")


async def get_request_settings(request: Request) -> Settings:
    """The settings of the app serving this request."""
    # async: FastAPI runs a plain `def` dependency in a worker thread, a hand-off per request.
    settings: Settings = request.app.state.runtime.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_request_settings)]


@dataclass(frozen=True, slots=True)
class ContactWrite:
    """What a route recording contacts (calls, visits) works with: the request's session, the
    API key with `contacts:write`, and the settings."""

    session: AsyncSession
    actor: Principal
    settings: Settings


async def _contact_write(
    session: SessionDep,
    principal: Annotated[Principal, Depends(require_scope("contacts:write"))],
    settings: SettingsDep,
) -> ContactWrite:
    return ContactWrite(session, principal, settings)


ContactWriteDep = Annotated[ContactWrite, Depends(_contact_write)]

BATCH_PROBLEMS: dict[int | str, dict[str, Any]] = {
    k: PROBLEM_RESPONSES[k] for k in (401, 403, 413, 422)
}
"""What a POST of one record or a list of them may be refused with."""


def one_or_many_body(model: type[BaseModel], description: str) -> dict[str, Any]:
    """The OpenAPI request body of a route that takes one record or a list of them."""
    schema = model.model_json_schema()
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {
                "application/json": {
                    "schema": {"oneOf": [schema, {"type": "array", "items": schema}]}
                }
            },
        }
    }


def one_or_many_route(
    record: type[BaseModel], result: type[BaseModel], *, body: str, unchanged: str
) -> dict[str, Any]:
    """The route arguments of a POST of one record or a list of them: 201, or 200 (`unchanged`)
    when nothing was new."""
    return {
        "response_model": result,
        "status_code": 201,
        "responses": {200: {"description": unchanged, "model": result}, **BATCH_PROBLEMS},
        "openapi_extra": one_or_many_body(record, body),
    }


R = TypeVar("R")


async def record_posted(
    payload: Any,
    adapter: TypeAdapter[T],
    write: ContactWrite,
    *,
    what: str,
    record: Callable[..., Awaitable[R]],
) -> R:
    """Records a posted body of one record or a list of them (at most `max_call_batch`) with the
    service function `record`."""
    records, single = one_or_many(payload, adapter, cap=write.settings.max_call_batch, what=what)
    return await record(
        write.session, records=records, single=single, actor=write.actor, settings=write.settings
    )


def utc_now() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


def invalid(field: str, message: str) -> ProblemError:
    """A 422 problem naming one field, shaped like the frame's validation problems."""
    return invalid_field(field, message)


def record_field(position: int, name: str, *, single: bool) -> str:
    """Where a field of a posted record is: `body.name` for one record, else `body.N.name`."""
    return f"body.{name}" if single else f"body.{position}.{name}"


def actor_of(principal: Principal) -> tuple[str, str]:
    """Who did it, for the audit history: the API key's id and name."""
    return principal.key_id, principal.name


Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ()\-.]{5,30}$")
]
"""A telephone number: digits, spaces, brackets, dashes, an optional leading +."""

Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    SingleLine,
]
"""An email address (checked for shape, not deliverability)."""

Uprn = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,12}$")]
"""A Unique Property Reference Number: up to 12 digits."""

Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000), Storable
]
"""Free text a resident or officer wrote."""

Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), SingleLine]
"""A person's name."""

Address = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), Storable]
"""A postal address or a description of a place (may span lines)."""


def field_errors(error: ValidationError, prefix: str) -> list[dict[str, str]]:
    """A pydantic error as the frame's list of {field, message}, each field under `prefix`."""
    return [
        {
            "field": ".".join([prefix, *(str(part) for part in e["loc"])]).strip("."),
            "message": e["msg"],
        }
        for e in error.errors(include_url=False)
    ]


def validate_items(adapter: TypeAdapter[T], items: list[Any], prefix: str = "body") -> list[T]:
    """Validates each item of a list, or one 422 problem naming every bad field by position."""
    valid: list[T] = []
    errors: list[dict[str, str]] = []
    for position, item in enumerate(items):
        try:
            valid.append(adapter.validate_python(item))
        except ValidationError as error:
            where = f"{prefix}.{position}" if prefix else "body"
            errors.extend(field_errors(error, where))
    if errors:
        raise invalid_fields(errors)
    return valid


def too_many(count: int, cap: int, what: str) -> ProblemError:
    """The 413 problem for a batch larger than the cap."""
    return ProblemError(
        413,
        f"The batch has {count} {what}; at most {cap} are accepted in one request. "
        "Send them in several requests.",
        problem="batch-too-large",
        title="Content Too Large",
        max_records=cap,
    )


def one_or_many(
    payload: Any, adapter: TypeAdapter[T], *, cap: int, what: str
) -> tuple[list[T], bool]:
    """The records of a body that is one JSON object or a list of them; and whether it was one."""
    if isinstance(payload, dict):
        return validate_items(adapter, [payload], prefix="")[:1], True
    if isinstance(payload, list):
        if len(payload) > cap:
            raise too_many(len(payload), cap, what)
        if not payload:
            raise invalid("body", f"the list is empty; send one or more {what}")
        return validate_items(adapter, payload), False
    raise invalid("body", f"send one of the {what} as a JSON object, or a list of them")
