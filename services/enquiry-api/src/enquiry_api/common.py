"""Small pieces every domain of enquiry-api shares: request context, field problems, types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import StringConstraints, TypeAdapter, ValidationError

from contact_common.auth import Principal
from contact_common.errors import ProblemError, invalid_field, invalid_fields
from enquiry_api.config import Settings

SOURCE = "/enquiry-api"

T = TypeVar("T")


async def get_request_settings(request: Request) -> Settings:
    """The settings of the app serving this request."""
    # async: FastAPI runs a plain `def` dependency in a worker thread, a hand-off per request.
    settings: Settings = request.app.state.runtime.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_request_settings)]


def utc_now() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


def invalid(field: str, message: str) -> ProblemError:
    """A 422 problem naming one field, shaped like the frame's validation problems."""
    return invalid_field(field, message)


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
]
"""An email address (checked for shape, not deliverability)."""

Uprn = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,12}$")]
"""A Unique Property Reference Number: up to 12 digits."""

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
"""Free text a resident or officer wrote."""


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
