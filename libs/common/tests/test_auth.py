"""Tests for API keys: issuing, storing only a hash, revoking, and scopes enforced over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar

import httpx
import pytest
from fastapi import APIRouter, Depends
from pydantic_settings import SettingsConfigDict

from contact_common.auth import (
    KeyStore,
    Principal,
    issue_key,
    key_file_summary,
    new_token,
    read_key_file,
    require_scope,
    revoke_key,
)
from contact_common.errors import PROBLEM_JSON
from contact_common.service import ServiceRuntime, create_app
from contact_common.settings import ServiceSettings
from contact_devtools.testing import LiveServer


def _secret_of(token: str) -> str:
    return token.split("_", 2)[2]


def _key_id_of(token: str) -> str:
    return token.split("_", 2)[1]


# -- the key file ------------------------------------------------------------------------------


def test_issued_key_is_stored_as_a_hash_never_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"

    token = issue_key(path, name="portal", scopes=["enquiries:read", "enquiries:write"])

    stored = path.read_text()
    assert _secret_of(token) not in stored
    assert token not in stored
    [record] = read_key_file(path).keys
    assert record.key_id == _key_id_of(token)
    assert record.name == "portal"
    assert record.scopes == ["enquiries:read", "enquiries:write"]
    assert record.secret_sha256 == hashlib.sha256(_secret_of(token).encode()).hexdigest()
    assert record.revoked_at is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_key_listing_never_shows_the_hash(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    token = issue_key(path, name="portal", scopes=["enquiries:read"])

    [summary] = key_file_summary(path)

    assert summary["key_id"] == _key_id_of(token)
    assert "secret_sha256" not in summary
    assert read_key_file(path).keys[0].secret_sha256 not in str(summary)


def test_tokens_are_new_each_time() -> None:
    tokens = {new_token() for _ in range(100)}

    assert len(tokens) == 100
    assert all(t.startswith("cc_") and len(_secret_of(t)) >= 43 for t in tokens)


def test_a_valid_key_is_verified_with_its_scopes(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    token = issue_key(path, name="telephony", scopes=["contacts:write"])

    principal = KeyStore(path).verify(token)

    assert principal == Principal(_key_id_of(token), "telephony", frozenset({"contacts:write"}))
    assert principal.allows("contacts:write")
    assert not principal.allows("enquiries:read")


def test_admin_allows_every_scope(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    token = issue_key(path, name="operator", scopes=["admin"])

    principal = KeyStore(path).verify(token)

    assert principal is not None
    assert principal.allows("customers:erase")
    assert principal.allows("metrics:read")


def test_revoked_key_is_refused_once_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    token = issue_key(path, name="portal", scopes=["enquiries:read"])
    other = issue_key(path, name="kiosk", scopes=["contacts:write"])
    store = KeyStore(path, recheck_seconds=0)
    assert store.verify(token) is not None

    assert revoke_key(path, _key_id_of(token)) is True

    assert store.verify(token) is None
    assert store.verify(other) is not None
    assert read_key_file(path).keys[0].revoked_at is not None


async def test_revocation_reaches_a_store_within_its_recheck_interval(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    token = issue_key(path, name="portal", scopes=["enquiries:read"])
    store = KeyStore(path, recheck_seconds=0.2)
    assert store.verify(token) is not None

    revoke_key(path, _key_id_of(token))

    await _until(lambda: store.verify(token) is None, what="the revocation to be seen")


def test_a_key_issued_after_the_store_looked_works_at_once(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first = issue_key(path, name="portal", scopes=["enquiries:read"])
    store = KeyStore(path, recheck_seconds=60)
    assert store.verify(first) is not None

    second = issue_key(path, name="kiosk", scopes=["contacts:write"])

    assert store.verify(second) is not None


def test_revoking_twice_or_an_unknown_key_reports_false(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    token = issue_key(path, name="portal", scopes=["enquiries:read"])

    assert revoke_key(path, _key_id_of(token)) is True
    assert revoke_key(path, _key_id_of(token)) is False
    assert revoke_key(path, "000000000000") is False


def test_reissuing_a_fixed_token_replaces_the_old_secret(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first = issue_key(path, name="dev", scopes=["admin"], token="cc_0123456789ab_first-secret")
    store = KeyStore(path, recheck_seconds=0)
    assert store.verify(first) is not None

    second = issue_key(path, name="dev", scopes=["admin"], token="cc_0123456789ab_second-secret")

    assert len(read_key_file(path).keys) == 1
    assert store.verify(second) is not None
    assert store.verify(first) is None


def test_unknown_scope_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"

    with pytest.raises(ValueError, match="unknown scopes: enquiries:delete"):
        issue_key(path, name="portal", scopes=["enquiries:read", "enquiries:delete"])
    with pytest.raises(ValueError, match="unknown scope"):
        require_scope("enquiries:delete")
    assert not path.exists()


def test_a_fixed_token_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cc_<id>_<secret>"):
        issue_key(tmp_path / "keys.json", name="dev", scopes=["admin"], token="not-a-key")


@pytest.mark.parametrize(
    "malformed",
    [
        "",
        "cc",
        "cc_",
        "cc__",
        "{key_id}",
        "cc_{key_id}",
        "cc_{key_id}_",
        "xx_{key_id}_{secret}",
        "CC_{key_id}_{secret}",
        "cc_{key_id}_{secret}x",
        "cc_{key_id}_{secret_head}",
        "cc_000000000000_{secret}",
        "Bearer cc_{key_id}_{secret}",
        " cc_{key_id}_{secret}",
    ],
)
def test_malformed_or_wrong_tokens_are_refused(tmp_path: Path, malformed: str) -> None:
    path = tmp_path / "keys.json"
    token = issue_key(path, name="portal", scopes=["admin"])
    key_id, secret = _key_id_of(token), _secret_of(token)
    store = KeyStore(path)
    assert store.verify(token) is not None

    candidate = malformed.format(key_id=key_id, secret=secret, secret_head=secret[:-1])

    assert store.verify(candidate) is None


def test_a_missing_key_file_verifies_nothing(tmp_path: Path) -> None:
    assert KeyStore(tmp_path / "absent.json").verify(new_token()) is None


# -- require_scope over real HTTP ----------------------------------------------------------------


class AuthTestSettings(ServiceSettings):
    """A service of this test's own."""

    model_config = SettingsConfigDict(env_prefix="TESTAUTH_", env_file=None, extra="ignore")

    service_name: ClassVar[str] = "auth-test"
    database_schema: ClassVar[str] = "auth_test"


@dataclass
class Served:
    url: str
    keys: Path

    def issue(self, *scopes: str) -> str:
        return issue_key(self.keys, name="test", scopes=scopes)


@pytest.fixture(scope="module")
async def served(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Served]:
    """A service whose one route needs `enquiries:read`, served by uvicorn on a real port."""
    directory = tmp_path_factory.mktemp("auth")
    settings = AuthTestSettings(
        database_url=f"sqlite+aiosqlite:///{directory}/auth.db",
        kafka_bootstrap_servers=kafka_bootstrap,
        api_keys_file=directory / "api-keys.json",
        log_json=False,
        log_level="WARNING",
    )
    router = APIRouter()

    @router.get("/enquiries")
    async def list_enquiries(
        principal: Annotated[Principal, Depends(require_scope("enquiries:read"))],
    ) -> dict[str, str]:
        return {"key_id": principal.key_id}

    app = create_app(
        runtime=ServiceRuntime(settings),
        title="auth test",
        description="one route behind a scope",
        routers=[router],
    )
    async with LiveServer(app) as server:
        yield Served(server.url, settings.api_keys_file)


async def _get(served: Served, token: str | None = None, scheme: str = "Bearer") -> httpx.Response:
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
        return await client.get("/enquiries", headers=headers)


def _assert_problem(response: httpx.Response, status: int, problem: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert body["type"].endswith(f"/{problem}")
    assert body["instance"] == "/enquiries"
    assert body["detail"]
    return body


async def test_without_a_key_the_answer_is_401_with_a_challenge(served: Served) -> None:
    response = await _get(served)

    body = _assert_problem(response, 401, "unauthorised")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in str(body["detail"])


async def test_a_key_in_another_scheme_is_401(served: Served) -> None:
    token = served.issue("enquiries:read")

    response = await _get(served, token, scheme="Basic")

    _assert_problem(response, 401, "unauthorised")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_an_unknown_or_malformed_key_is_401(served: Served) -> None:
    token = served.issue("enquiries:read")

    for wrong in (new_token(), token[:-1], "cc_not-a-key", "garbage"):
        response = await _get(served, wrong)
        _assert_problem(response, 401, "unauthorised")
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_revoked_key_is_401(served: Served) -> None:
    token = served.issue("enquiries:read")
    assert (await _get(served, token)).status_code == 200

    revoke_key(served.keys, _key_id_of(token))

    # The service re-reads the key file within its recheck interval (a second).
    await _until_async(lambda: _status(served, token), 401, what="the revoked key to be refused")
    _assert_problem(await _get(served, token), 401, "unauthorised")


async def test_a_key_without_the_scope_is_403(served: Served) -> None:
    token = served.issue("complaints:read", "enquiries:write")

    response = await _get(served, token)

    body = _assert_problem(response, 403, "forbidden")
    assert "enquiries:read" in str(body["detail"])
    assert "www-authenticate" not in response.headers


async def test_a_key_with_the_scope_is_let_through(served: Served) -> None:
    token = served.issue("enquiries:read")

    response = await _get(served, token)

    assert response.status_code == 200
    assert response.json() == {"key_id": _key_id_of(token)}


async def test_an_admin_key_is_let_through(served: Served) -> None:
    token = served.issue("admin")

    response = await _get(served, token)

    assert response.status_code == 200
    assert response.json() == {"key_id": _key_id_of(token)}


# -- waiting with a deadline ---------------------------------------------------------------------


async def _status(served: Served, token: str) -> int:
    return (await _get(served, token)).status_code


async def _until(condition, *, what: str, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _until_async(probe, expected: int, *, what: str, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (await probe()) != expected:
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)
