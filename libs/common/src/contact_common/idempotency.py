"""Idempotent POSTs: the `Idempotency-Key` header of the IETF httpapi draft
(draft-ietf-httpapi-idempotency-key-header).

A client that sends a key with a POST may send the same request again (a timeout, a lost
answer) and gets the first answer back (status, body, `Location`) rather than a second contact.
The same key with another body is a 422; a key whose first request is still being served is a
409. Keys are kept per API key, method and path, in a table of the service's own schema, for
at least the retention (48 h by default), so they survive a restart.

How a request goes:
1. The key is *claimed* in a short transaction of its own (an insert on a unique constraint).
   A conflict reads the row: answered -> the same body fingerprint replays it, another is 422;
   not answered -> 409, unless the claim is older than the lease (its process died), which is
   then taken over.
2. The route does its work in the request's transaction and stores its answer in that same
   transaction (`IdempotentRequest.answer`), so a contact is never committed without the answer
   its retry will get, nor an answer without its contact.
3. A request that fails (a 4xx or 5xx, or a failed commit) releases its claim, so the client
   may correct the request and send it again under the same key.

Rows older than the retention are purged by `IdempotencyPurger`, and a claim finding an expired
row takes it over, so expiry never waits for the purge.
"""

import asyncio
import contextlib
import hashlib
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    delete,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_common.auth import Principal
from contact_common.db import UTCDateTime, insert_for, transaction
from contact_common.errors import PROBLEM_JSON, Problem, ProblemError
from contact_common.logs import get_logger

log = get_logger(__name__)

HEADER = "Idempotency-Key"
DEFAULT_RETENTION = timedelta(hours=48)
DEFAULT_LEASE = timedelta(seconds=60)
MAX_KEY_LENGTH = 255
# Printable ASCII, as an sf-string may hold (RFC 8941 3.3.3).
_PRINTABLE = re.compile(r"^[\x20-\x7e]+$")
# The headers of an answer that a replay repeats.
_KEPT_HEADERS = ("location", "content-type")

HEADER_DESCRIPTION = (
    "Optional. A unique key (1-255 printable characters, e.g. a UUID; quoted as an sf-string "
    "or bare) that makes this POST safe to retry: the same key and the same body within 48 "
    "hours answer what the first request answered (status, body, `Location`) without doing "
    "it again; the same key with another body is 422 (idempotency-key-reused); a retry "
    "while the first is still being served is 409 (idempotency-key-in-flight). A failed "
    "request (4xx, 5xx) keeps nothing, so it may be corrected and sent under the same key. "
    "Keys are kept per API key, method and path."
)

IDEMPOTENCY_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "model": Problem,
        "content": {PROBLEM_JSON: {}},
        "description": "The Idempotency-Key header is not 1-255 printable characters "
        "(idempotency-key-invalid).",
    },
    409: {
        "model": Problem,
        "content": {PROBLEM_JSON: {}},
        "description": "A request with this Idempotency-Key is still being served "
        "(idempotency-key-in-flight): retry after it finishes; or the step is not allowed now.",
    },
    422: {
        "model": Problem,
        "content": {PROBLEM_JSON: {}},
        "description": "A field is not valid; or this Idempotency-Key was used with another "
        "body (idempotency-key-reused).",
    },
}
"""The problems an idempotent route adds to its OpenAPI responses."""


def idempotency_table(metadata: MetaData) -> Table:
    """The table of idempotency keys and their stored answers, in a service's own schema."""
    table = Table(
        "idempotency_key",
        metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
        Column("api_key_id", String(64), nullable=False),
        Column("method", String(10), nullable=False),
        Column("path", String(1000), nullable=False),
        Column("idempotency_key", String(MAX_KEY_LENGTH), nullable=False),
        Column("fingerprint", String(64), nullable=False),
        Column("claim_token", Uuid, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("claimed_at", UTCDateTime, nullable=False),
        Column("completed_at", UTCDateTime, nullable=True),
        Column("status_code", SmallInteger, nullable=True),
        Column("response_headers", JSON, nullable=True),
        Column("response_body", LargeBinary, nullable=True),
        UniqueConstraint("api_key_id", "method", "path", "idempotency_key"),
    )
    Index("ix_idempotency_key_created_at", table.c.created_at)
    return table


class IdempotencyKeyInvalid(ProblemError):
    """The header is not a key this API accepts."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            400, detail, problem="idempotency-key-invalid", title="Invalid Idempotency-Key"
        )


class IdempotencyKeyReused(ProblemError):
    """The key was used with another request body."""

    def __init__(self, key: str) -> None:
        super().__init__(
            422,
            f"The Idempotency-Key '{key}' was used with a different request body; use a new "
            "key for a new request.",
            problem="idempotency-key-reused",
            title="Idempotency-Key reused",
        )


class IdempotencyKeyInFlight(ProblemError):
    """The first request under the key is still being served."""

    def __init__(self, key: str) -> None:
        super().__init__(
            409,
            f"A request with the Idempotency-Key '{key}' is still being served; retry once it "
            "has finished.",
            problem="idempotency-key-in-flight",
            title="Idempotency-Key in flight",
            headers={"Retry-After": "1"},
        )


def parse_key(value: str) -> str:
    """The key of an `Idempotency-Key` header: an sf-string (quoted) or the bare characters."""
    value = value.strip()
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        value = re.sub(r'\\(["\\])', r"\1", value[1:-1])
    if not value:
        raise IdempotencyKeyInvalid("The Idempotency-Key header is empty.")
    if len(value) > MAX_KEY_LENGTH:
        raise IdempotencyKeyInvalid(
            f"The Idempotency-Key is {len(value)} characters long; at most {MAX_KEY_LENGTH}."
        )
    if not _PRINTABLE.match(value):
        raise IdempotencyKeyInvalid("The Idempotency-Key must be printable ASCII characters.")
    return value


def fingerprint(body: bytes | str | Any) -> str:
    """The SHA-256 of a request's content: JSON in canonical form (keys sorted, no spaces),
    other bytes as they are; a mapping (a form) sorted by field."""
    if isinstance(body, bytes | str):
        raw = body.encode() if isinstance(body, str) else body
        try:
            parsed = json.loads(raw) if raw.strip() else None
        except ValueError:
            return hashlib.sha256(raw).hexdigest()
        if parsed is None and not raw.strip():
            return hashlib.sha256(b"").hexdigest()
        body = parsed
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyScope:
    """Where a key is unique: one API key's requests of one method to one path."""

    api_key_id: str
    method: str
    path: str
    key: str


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The first answer under a key, as it is replayed."""

    status_code: int
    headers: dict[str, str]
    body: bytes

    def response(self) -> Response:
        """The answer again, marked as a replay."""
        return Response(
            self.body,
            status_code=self.status_code,
            headers={**self.headers, "Idempotent-Replayed": "true"},
        )


@dataclass(frozen=True, slots=True)
class Claim:
    """A key this request holds until it answers or fails."""

    scope: KeyScope
    token: UUID


class IdempotencyStore:
    """Claims keys, stores answers and purges old keys in one service's table."""

    def __init__(
        self,
        table: Table,
        *,
        retention: timedelta = DEFAULT_RETENTION,
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        if retention < timedelta(hours=24):
            raise ValueError("idempotency keys are kept at least 24 hours (the draft's advice)")
        self.table = table
        self.retention = retention
        self.lease = lease

    def _where(self, scope: KeyScope) -> Any:
        c = self.table.c
        return (
            (c.api_key_id == scope.api_key_id)
            & (c.method == scope.method)
            & (c.path == scope.path)
            & (c.idempotency_key == scope.key)
        )

    async def claim(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        scope: KeyScope,
        fingerprint: str,
        now: datetime | None = None,
    ) -> Claim | StoredAnswer:
        """Claims the key in a transaction of its own: a Claim, or the stored first answer.

        Raises IdempotencyKeyReused for another body, IdempotencyKeyInFlight while the first
        request is served.
        """
        now = now or datetime.now(UTC)
        token = uuid4()
        fresh = self._fresh(scope, fingerprint=fingerprint, token=token, now=now)
        async with transaction(factory) as session:
            if await self._insert(session, fresh):
                return Claim(scope, token)
            row = (
                await session.execute(
                    select(self.table).where(self._where(scope)).with_for_update()
                )
            ).one_or_none()
            if row is None or row.created_at <= now - self.retention:
                # Purged since the insert, or expired: the key is new again.
                await self._take(session, scope=scope, fresh=fresh)
                return Claim(scope, token)
            if row.fingerprint != fingerprint:
                raise IdempotencyKeyReused(scope.key)
            if row.completed_at is not None:
                return StoredAnswer(row.status_code, dict(row.response_headers), row.response_body)
            if row.claimed_at > now - self.lease:
                raise IdempotencyKeyInFlight(scope.key)
            log.warning("idempotency claim taken over", path=scope.path)
            await session.execute(
                update(self.table)
                .where(self.table.c.id == row.id)
                .values(claim_token=token, claimed_at=now)
            )
            return Claim(scope, token)

    async def _insert(self, session: AsyncSession, fresh: dict[str, Any]) -> bool:
        """Inserts a claim's row (`_fresh`) unless its key has one: True if inserted."""
        statement = (
            insert_for(session, self.table)
            .values(**fresh)
            .on_conflict_do_nothing()
            .returning(self.table.c.id)
        )
        return (await session.execute(statement)).first() is not None

    async def _take(self, session: AsyncSession, *, scope: KeyScope, fresh: dict[str, Any]) -> None:
        """Claims a key whose row expired or went away since the first insert was tried."""
        await session.execute(delete(self.table).where(self._where(scope)))
        if not await self._insert(session, fresh):
            # Another request claimed the key in between: it is in flight.
            raise IdempotencyKeyInFlight(scope.key)

    @staticmethod
    def _fresh(scope: KeyScope, *, fingerprint: str, token: UUID, now: datetime) -> dict[str, Any]:
        """The row of a new claim on the key."""
        return {
            "api_key_id": scope.api_key_id,
            "method": scope.method,
            "path": scope.path,
            "idempotency_key": scope.key,
            "fingerprint": fingerprint,
            "claim_token": token,
            "created_at": now,
            "claimed_at": now,
        }

    async def complete(
        self,
        session: AsyncSession,
        claim: Claim,
        answer: StoredAnswer,
        *,
        now: datetime | None = None,
    ) -> None:
        """Stores the answer in the caller's transaction (the one that did the work).

        Raises IdempotencyKeyInFlight if the claim was lost (taken over after the lease), so
        the work rolls back and only the other request's stands.
        """
        result = await session.execute(
            update(self.table)
            .where(
                self._where(claim.scope),
                self.table.c.claim_token == claim.token,
                self.table.c.completed_at.is_(None),
            )
            .values(
                completed_at=now or datetime.now(UTC),
                status_code=answer.status_code,
                response_headers=answer.headers,
                response_body=answer.body,
            )
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise IdempotencyKeyInFlight(claim.scope.key)

    async def release(self, factory: async_sessionmaker[AsyncSession], claim: Claim) -> None:
        """Gives up a claim that did not answer, so the key may be used again."""
        async with transaction(factory) as session:
            await session.execute(
                delete(self.table).where(
                    self._where(claim.scope),
                    self.table.c.claim_token == claim.token,
                    self.table.c.completed_at.is_(None),
                )
            )

    async def purge(
        self, factory: async_sessionmaker[AsyncSession], *, now: datetime | None = None
    ) -> int:
        """Deletes the keys older than the retention; how many."""
        cutoff = (now or datetime.now(UTC)) - self.retention
        async with transaction(factory) as session:
            result = await session.execute(
                delete(self.table).where(self.table.c.created_at <= cutoff)
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class IdempotencyPurger:
    """A worker that purges expired keys now and then."""

    def __init__(
        self,
        store: IdempotencyStore,
        factory: async_sessionmaker[AsyncSession],
        *,
        interval: timedelta = timedelta(minutes=10),
    ) -> None:
        self.store = store
        self.factory = factory
        self.interval = interval
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Purges, then waits an interval, until stopped."""
        while not self._stopping.is_set():
            try:
                purged = await self.store.purge(self.factory)
                if purged:
                    log.info("idempotency keys purged", count=purged)
            except Exception as exc:  # the database is away: the next round tries again
                log.warning("idempotency purge failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval.total_seconds())

    def stop(self) -> None:
        """Asks the worker to stop."""
        self._stopping.set()


class _Replay(Exception):
    """Carries a stored answer from the dependency to the app's handler."""

    def __init__(self, answer: StoredAnswer) -> None:
        super().__init__("idempotent replay")
        self.answer = answer


async def _on_replay(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, _Replay)
    return exc.answer.response()


def install_idempotency(app: FastAPI, store: IdempotencyStore) -> None:
    """Lets `app`'s routes use `idempotency_key`: the store, and the handler that replays."""
    app.state.idempotency = store
    app.add_exception_handler(_Replay, _on_replay)


@dataclass(slots=True)
class IdempotentRequest:
    """What a route answers through, so that the answer is stored under the request's key."""

    store: IdempotencyStore | None = None
    claim: Claim | None = None
    answered: bool = field(default=False)

    async def answer(
        self,
        session: AsyncSession,
        *,
        content: BaseModel,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """The JSON response of `content`; stored in `session`'s transaction under the key."""
        stored = StoredAnswer(
            status_code,
            {**(headers or {}), "content-type": "application/json"},
            content.model_dump_json(by_alias=True).encode(),
        )
        if self.store is not None and self.claim is not None:
            await self.store.complete(session, self.claim, stored)
            self.answered = True
        return Response(stored.body, status_code=status_code, headers=stored.headers)


def idempotency_key(require: Callable[..., Any]) -> Callable[..., AsyncIterator[IdempotentRequest]]:
    """A dependency claiming the request's `Idempotency-Key` (if any) for the caller of `require`.

    Put it before the session in the route's parameters: it is then torn down after the
    session's commit, and releases the claim if the route or the commit failed.
    """

    async def dependency(
        request: Request,
        principal: Annotated[Principal, Depends(require)],
        key: Annotated[str | None, Header(alias=HEADER, description=HEADER_DESCRIPTION)] = None,
    ) -> AsyncIterator[IdempotentRequest]:
        if key is None:
            yield IdempotentRequest()
            return
        store: IdempotencyStore = request.app.state.idempotency
        factory = request.app.state.runtime.session_factory
        scope = KeyScope(principal.key_id, request.method, request.url.path, parse_key(key))
        outcome = await store.claim(
            factory, scope=scope, fingerprint=fingerprint(await request.body())
        )
        if isinstance(outcome, StoredAnswer):
            raise _Replay(outcome)
        handle = IdempotentRequest(store, outcome)
        try:
            yield handle
        except BaseException:
            await store.release(factory, outcome)
            raise
        if not handle.answered:
            await store.release(factory, outcome)

    return dependency


def idempotent(require: Callable[..., Any]) -> Any:
    """`Depends` of `idempotency_key(require)`, torn down with the request's session."""
    return Depends(idempotency_key(require), scope="function")


def serve_idempotency(
    app: FastAPI,
    *,
    table: Table,
    factory: async_sessionmaker[AsyncSession],
    add_worker: Callable[[IdempotencyPurger], None],
    retention: timedelta = DEFAULT_RETENTION,
    lease: timedelta = DEFAULT_LEASE,
) -> IdempotencyStore:
    """Installs a store on `app` for `table`, and a purger among the service's workers."""
    store = IdempotencyStore(table, retention=retention, lease=lease)
    install_idempotency(app, store)
    add_worker(IdempotencyPurger(store, factory))
    return store
