"""API keys are stored hashed and never logged (issue 7).

A key is issued with contactctl as an operator would, then used against enquiry-api on a real
port, rightly and wrongly (a wrong secret, a revoked key, the key in another scheme, in the
query string and in an Open311 form), with every logger at DEBUG. Neither the token, its secret
nor the stored hash may appear in anything logged, and the key file holds only the hash.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from contact_common.auth import revoke_key
from contact_devtools.testing import running_service
from contactctl.main import app as contactctl
from enquiry_api.config import Settings as EnquirySettings
from enquiry_api.main import create_app as enquiry_app

ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the console renderer's colours, between key and value


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _read_from(path: Path, offset: int) -> str:
    with path.open(encoding="utf-8") as stream:
        stream.seek(offset)
        return stream.read()


def _issue(keys_file: Path, name: str, *scopes: str) -> str:
    options = [f"--scope={scope}" for scope in scopes]
    result = CliRunner().invoke(
        contactctl, ["keys", "issue", "--name", name, *options, "--keys-file", str(keys_file)]
    )
    assert result.exit_code == 0, result.output
    return result.output.strip()


async def test_keys_are_stored_hashed_and_never_logged(
    database_url: str,
    kafka_bootstrap: str,
    api_keys_file: Path,
    session_log: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # The test's own HTTP client logs the URLs it requests; it is not a service. (Root last:
    # set_level sets the capturing handler's level as well.)
    for client_logger in ("httpx", "httpcore"):
        caplog.set_level(logging.WARNING, logger=client_logger)
    caplog.set_level(logging.DEBUG)
    logged_before = (await asyncio.to_thread(session_log.stat)).st_size
    token = _issue(api_keys_file, "web-portal", "enquiries:write", "enquiries:read")
    revoked = _issue(api_keys_file, "old-portal", "enquiries:read")
    _, key_id, secret = token.split("_", 2)
    assert revoke_key(api_keys_file, revoked.split("_")[1])
    secrets = {
        "the token": token,
        "the secret": secret,
        "the stored hash": _sha256(secret),
        "the token's hash": _sha256(token),
        "the revoked token": revoked,
        "the revoked key's stored hash": _sha256(revoked.split("_", 2)[2]),
    }

    stored = await asyncio.to_thread(api_keys_file.read_text)
    for what in ("the token", "the secret", "the token's hash", "the revoked token"):
        assert secrets[what] not in stored, f"{what} is in the key file"
    assert stored.count(secrets["the stored hash"]) == 1  # only the SHA-256 of the secret

    async with (
        running_service(
            enquiry_app,
            EnquirySettings,
            service="enquiry-api",
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            api_keys_file=api_keys_file,
            log_level="DEBUG",
        ) as server,
        httpx.AsyncClient(base_url=server.url, timeout=30) as client,
    ):
        bearer = {"Authorization": f"Bearer {token}"}
        attempts = [
            ("GET", "/v1/enquiries", bearer, 200),
            ("POST", "/v1/enquiries", bearer, 422),  # a body that is not valid
            ("GET", "/v1/enquiries", {"Authorization": f"Bearer cc_{key_id}_wrong"}, 401),
            ("GET", "/v1/enquiries", {"Authorization": f"Bearer {token}x"}, 401),
            ("GET", "/v1/enquiries", {"Authorization": f"Bearer {revoked}"}, 401),
            ("GET", "/v1/enquiries", {"Authorization": f"Basic {token}"}, 401),
            ("GET", f"/v1/enquiries?api_key={token}", {}, 401),
            ("GET", "/v1/enquiries", {"X-Api-Key": token}, 401),
        ]
        for method, url, headers, status in attempts:
            response = await client.request(method, url, headers=headers, json={"x": token})
            assert response.status_code == status, (method, url, response.text)
            assert token not in response.text and secret not in response.text
        services = await client.get("/open311/v2/services.json")
        form = {"service_code": services.json()[0]["service_code"], "lat": "52.6", "long": "1.3"}
        for api_key in (token, f"cc_{key_id}_wrong"):
            await client.post("/open311/v2/requests.json", data=form | {"api_key": api_key})

    captured = capfd.readouterr()
    session = ANSI.sub("", await asyncio.to_thread(_read_from, session_log, logged_before))
    logs = {
        "stderr": ANSI.sub("", captured.err),
        "stdout": ANSI.sub("", captured.out),
        "the standard library's logs": caplog.text,
        "the session log": session,
    }
    # Something was logged about these requests, at DEBUG: the absence below means something.
    assert "status=401" in session, session[-2000:]
    assert caplog.records  # the standard library's loggers were heard too (alembic, at least)
    for where, text in logs.items():
        for what, value in secrets.items():
            assert value not in text, f"{what} is in {where}"
