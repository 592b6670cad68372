"""API keys with scopes: `Authorization: Bearer <key>`; 401 without a valid key, 403 without
the scope.

Keys are issued by the operator CLI into a JSON key file shared by the services (a Secret in a
cluster). Only a SHA-256 hash of each key's secret is stored: the secrets are 256 random bits,
so a slow password hash buys nothing, and the lookup stays on the hot path's budget. A verified
key's requests are counted against its rate limit (`contact_common.ratelimit`) by its id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BaseModel, Field

from contact_common.errors import ProblemError
from contact_common.ratelimit import enforce_rate_limit, parse_limit

KEY_PREFIX = "cc"

SCOPES: dict[str, str] = {
    "admin": "everything, including what later scopes add",
    "enquiries:read": "read enquiries and their history",
    "enquiries:write": "create enquiries and move them through their lifecycle",
    "contacts:write": "post telephony call records, reception visits and feedback",
    "standby:write": "the out-of-hours contractor: post its call records, nothing else",
    "customers:erase": "erase a customer's personal data",
    "customers:read": "find a customer's enquiries and complaints by email, phone or UPRN",
    "complaints:read": "read complaints and their history",
    "complaints:write": "record complaints and their steps",
    "sla:read": "read commitments, clocks and breaches",
    "metrics:read": "read KPIs, the score card and the dashboard data",
}


class ApiKeyRecord(BaseModel):
    """A stored key: never the secret, only its hash."""

    key_id: str
    name: str
    scopes: list[str]
    secret_sha256: str
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None = None
    rate_limit: str | None = Field(
        default=None,
        description="This key's own limit, e.g. '20/second' ('0' for none); the services' "
        "RATE_LIMIT if absent.",
    )


class KeyFile(BaseModel):
    """The key file's content."""

    keys: list[ApiKeyRecord] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's id and name, and what it may do."""

    key_id: str
    name: str
    scopes: frozenset[str]
    rate_limit: str | None = None

    def allows(self, scope: str) -> bool:
        """True if this key has `scope` (or admin)."""
        return "admin" in self.scopes or scope in self.scopes


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _split(token: str) -> tuple[str, str] | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    return parts[1], parts[2]


def is_key_shaped(token: str) -> bool:
    """True if `token` has a key's form, `cc_<id>_<secret>`, issued or not."""
    return _split(token) is not None


def new_token() -> str:
    """A fresh key: `cc_<id>_<secret>`, 48 random bits of id and 256 of secret."""
    return f"{KEY_PREFIX}_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


def read_key_file(path: Path) -> KeyFile:
    """The keys in `path` (none if the file does not exist)."""
    if not path.exists():
        return KeyFile()
    return KeyFile.model_validate_json(path.read_bytes())


def write_key_file(path: Path, content: KeyFile) -> None:
    """Writes the key file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(content.model_dump(mode="json"), indent=2) + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)


def issue_key(
    path: Path,
    *,
    name: str,
    scopes: Iterable[str],
    token: str | None = None,
    rate_limit: str | None = None,
) -> str:
    """Adds a key to the file and returns the token, which is shown once and never stored.

    `token` lets a developer fix the admin key of a local run (`DEV_API_KEY`); `rate_limit`
    gives the key a limit of its own instead of the services' RATE_LIMIT.
    """
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    if rate_limit is not None:
        parse_limit(rate_limit)  # refused here rather than by every service that reads the file
        rate_limit = rate_limit.strip()
    if token is None:
        token = new_token()
    parts = _split(token)
    if parts is None:
        raise ValueError(f"a key looks like {KEY_PREFIX}_<id>_<secret>")
    key_id, secret = parts
    content = read_key_file(path)
    content.keys = [k for k in content.keys if k.key_id != key_id]
    content.keys.append(
        ApiKeyRecord(
            key_id=key_id,
            name=name,
            scopes=scopes,
            secret_sha256=_hash(secret),
            created_at=datetime.now(UTC),
            rate_limit=rate_limit,
        )
    )
    write_key_file(path, content)
    return token


def revoke_key(path: Path, key_id: str) -> bool:
    """Marks a key revoked; False if there is no such key."""
    content = read_key_file(path)
    for key in content.keys:
        if key.key_id == key_id and key.revoked_at is None:
            key.revoked_at = datetime.now(UTC)
            write_key_file(path, content)
            return True
    return False


class KeyStore:
    """Verifies keys against the key file, re-reading it when it changes (revocation)."""

    def __init__(self, path: Path, *, recheck_seconds: float = 1.0) -> None:
        self.path = path
        self.recheck_seconds = recheck_seconds
        self._keys: dict[str, ApiKeyRecord] = {}
        self._stamp: tuple[int, int] | None = None
        self._checked_at = 0.0

    def _refresh(self, *, at_once: bool = False) -> None:
        moment = time.monotonic()
        if (
            not at_once
            and moment - self._checked_at < self.recheck_seconds
            and self._stamp is not None
        ):
            return
        self._checked_at = moment
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = (0, 0)
        if stamp != self._stamp:
            self._keys = {k.key_id: k for k in read_key_file(self.path).keys}
            self._stamp = stamp

    def verify(self, token: str) -> Principal | None:
        """The principal of a valid, unrevoked key; None otherwise."""
        parts = _split(token)
        if parts is None:
            return None
        self._refresh()
        record = self._keys.get(parts[0])
        if record is None:
            # A key issued since the last look works at once (a stat, and a read if it changed).
            self._refresh(at_once=True)
            record = self._keys.get(parts[0])
        if record is None or record.revoked_at is not None:
            return None
        if not hmac.compare_digest(record.secret_sha256, _hash(parts[1])):
            return None
        return Principal(record.key_id, record.name, frozenset(record.scopes), record.rate_limit)


_bearer = HTTPBearer(auto_error=False, description="An API key issued by `contactctl keys issue`.")


def _unauthorised(detail: str) -> ProblemError:
    return ProblemError(
        401, detail, problem="unauthorised", headers={"WWW-Authenticate": 'Bearer realm="api"'}
    )


def require_scope(scope: str) -> Callable[..., Any]:
    """A dependency that lets a request through only with a key holding `scope`."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope}")

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None:
            raise _unauthorised("Send an API key as 'Authorization: Bearer <key>'.")
        store: KeyStore = request.app.state.key_store
        principal = store.verify(credentials.credentials)
        if principal is None:
            raise _unauthorised("The API key is not valid or has been revoked.")
        # Every verified request counts, allowed or not: a key looping on a 403 is still a loop.
        await enforce_rate_limit(request, principal.key_id, principal.rate_limit)
        if not principal.allows(scope):
            raise ProblemError(
                403, f"This key does not have the '{scope}' scope.", problem="forbidden"
            )
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency


def require_scope_for(principal: Principal, scope: str, *, what: str) -> None:
    """Raises the 403 problem unless `principal` holds `scope` (for a part of a request)."""
    if not principal.allows(scope):
        raise ProblemError(
            403,
            f"{what} needs the '{scope}' scope, which this key does not have.",
            problem="forbidden",
        )


def scope_dependency(scope: str) -> Any:
    """`Depends(require_scope(scope))` as a reusable annotation target."""
    return Depends(require_scope(scope))


def key_file_summary(path: Path) -> list[dict[str, Any]]:
    """The keys for listing: ids, names, scopes, dates; never hashes."""
    return [k.model_dump(mode="json", exclude={"secret_sha256"}) for k in read_key_file(path).keys]
