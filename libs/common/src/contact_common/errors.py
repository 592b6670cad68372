"""RFC 9457 problem details: every error a client sees names what is wrong, never a bare 500."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from contact_common.logs import get_logger

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://council-contact.example/problems/"

log = get_logger(__name__)

E = TypeVar("E", bound=Exception)


class FieldError(BaseModel):
    """One invalid field of a request."""

    field: str = Field(description="Where the field is, e.g. body.channel or query.limit.")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Raised by a service to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        problem: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = f"{PROBLEM_BASE}{problem}" if problem else "about:blank"
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers
        self.extra = extra


def invalid_fields(errors: list[dict[str, str]], *, detail: str | None = None) -> ProblemError:
    """The 422 problem naming each invalid field ({field, message}), as the frame's validation
    problems are: the detail lists the fields unless the caller words its own."""
    if detail is None:
        names = ", ".join(dict.fromkeys(e["field"] for e in errors))
        detail = f"These fields are not valid: {names}" if names else "The request is not valid."
    return ProblemError(422, detail, problem="validation", title="Invalid request", errors=errors)


def invalid_field(field: str, message: str, *, detail: str | None = None) -> ProblemError:
    """The 422 problem naming one invalid field."""
    return invalid_fields([{"field": field, "message": message}], detail=detail)


def not_found(detail: str, *, problem: str = "not-found", **extra: Any) -> ProblemError:
    """The 404 problem: what was asked for is not there."""
    return ProblemError(404, detail, problem=problem, **extra)


def conflict(detail: str, *, problem: str, title: str | None = None, **extra: Any) -> ProblemError:
    """The 409 problem: the request does not fit the resource's current state."""
    return ProblemError(409, detail, problem=problem, title=title, **extra)


def problem_response(
    request: Request,
    *,
    status: int,
    title: str | None = None,
    detail: str | None = None,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response for `request`."""
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "instance": request.url.path,
    }
    if detail is not None:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _respond(request: Request, exc: ProblemError) -> JSONResponse:
    return problem_response(
        request,
        status=exc.status,
        title=exc.title,
        detail=exc.detail,
        type_=exc.type,
        headers=exc.headers,
        **exc.extra,
    )


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return _respond(request, exc)


def _field_error(error: dict[str, Any]) -> dict[str, str]:
    if error.get("type") == "json_invalid":
        # FastAPI locates a syntax error as ("body", <character>), which reads like a list index.
        loc = tuple(error.get("loc", ()))
        reason = (error.get("ctx") or {}).get("error", "not valid JSON")
        where = f" at character {loc[1]}" if len(loc) > 1 else ""
        return {"field": "body", "message": f"The body is not valid JSON: {reason}{where}."}
    return {"field": _location(tuple(error.get("loc", ()))), "message": error.get("msg", "invalid")}


def _invalid_body(request: Request, errors: list[dict[str, str]]) -> JSONResponse:
    return _respond(request, invalid_fields(errors))


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _invalid_body(request, [_field_error(e) for e in exc.errors()])


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    cause = exc.__cause__
    if exc.status_code == 400 and isinstance(cause, UnicodeDecodeError):
        # FastAPI's bare "error parsing the body": bytes that are not text. A body that cannot be
        # read is invalid input like malformed JSON, so it gets the same documented 422.
        byte = cause.object[cause.start : cause.start + 1].hex()
        message = (
            f"The body is not UTF-8 text (byte 0x{byte} at position {cause.start}); "
            "send JSON encoded as UTF-8."
        )
        return _invalid_body(request, [{"field": "body", "message": message}])
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(
        request, status=exc.status_code, detail=detail, headers=getattr(exc, "headers", None)
    )


def _database_unreachable(exc: BaseException) -> bool:
    """True when `exc` says the database connection was lost or refused, not that a query failed."""
    seen: BaseException | None = exc
    for _ in range(5):  # SQLAlchemy wraps the driver's error, which may wrap an OSError
        if seen is None:
            return False
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, OSError | asyncpg.PostgresConnectionError):
            return True
        if isinstance(seen, asyncpg.InterfaceError) and "connection" in str(seen):
            return True
        if isinstance(seen, asyncpg.CannotConnectNowError):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if _database_unreachable(exc):
        # A restart or a lost connection: the transaction rolled back, and the pool reconnects
        # on the next request, so the client may simply try again.
        log.warning("database unreachable", path=request.url.path, error=type(exc).__name__)
        return problem_response(
            request,
            status=503,
            type_=f"{PROBLEM_BASE}database-unavailable",
            detail="The database is unavailable for a moment; nothing you sent was saved. "
            "Try again shortly.",
            headers={"Retry-After": "1"},
        )
    log.exception("unhandled error", path=request.url.path, error=type(exc).__name__)
    return problem_response(
        request,
        status=500,
        detail="Something went wrong on our side; nothing you sent was partly saved.",
    )


def answer_as_problem(
    app: FastAPI, refusal: type[E], problem_of: Callable[[E], ProblemError]
) -> None:
    """Answers each `refusal` a service raises (a domain exception, not an HTTP one) with the
    problem `problem_of` makes of it: the one place a service's refusals become HTTP."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, refusal)
        return _respond(request, problem_of(exc))

    app.add_exception_handler(refusal, handler)


def install_problem_handlers(app: FastAPI) -> None:
    """Makes every error of `app` a problem document."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "model": Problem,
        "content": {PROBLEM_JSON: {}},
        "description": HTTPStatus(status).phrase,
    }
    for status in (400, 401, 403, 404, 409, 413, 422, 429)
}
