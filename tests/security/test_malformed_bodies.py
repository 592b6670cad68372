"""Bodies that are not JSON (issue 7): a documented 422 problem naming what is wrong, never a 400.

Every operation of enquiry-api and complaints-api that takes a JSON body is sent bytes that are
not UTF-8 and JSON with a syntax error; each answer must be a 422 problem+json, listed in the
operation's OpenAPI document, whose only error is the body's and says what is wrong with it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from complaints_api.config import Settings as ComplaintsSettings
from complaints_api.main import create_app as complaints_app
from contact_common.errors import PROBLEM_JSON
from contact_devtools.testing import running_service
from enquiry_api.config import Settings as EnquirySettings
from enquiry_api.main import create_app as enquiry_app

SERVICES: dict[str, tuple[Callable[..., FastAPI], type[Any]]] = {
    "enquiry-api": (enquiry_app, EnquirySettings),
    "complaints-api": (complaints_app, ComplaintsSettings),
}

# The body, and what the message about it must say (the standby batch reads its body itself).
BODIES = {
    "not UTF-8": (
        b'{"description": "caf\xe9 \xff"}',
        r"^The body is not UTF-8 text \(byte 0xe9 at position 20\)|^the body is not JSON: .*UTF-8",
    ),
    "a JSON syntax error": (b'{"channel": "phone",}', r"not (valid )?JSON: \w"),
}


def _json_operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]


@pytest.mark.parametrize("service", SERVICES)
async def test_unreadable_bodies_are_a_documented_422_naming_the_body(
    service: str,
    database_url: str,
    kafka_bootstrap: str,
    api_keys_file: Path,
    issue_api_key: Callable[..., str],
) -> None:
    create_app, settings_class = SERVICES[service]
    token = issue_api_key("admin", name="malformed")
    async with (
        running_service(
            create_app,
            settings_class,
            service=service,
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            api_keys_file=api_keys_file,
        ) as server,
        httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client,
    ):
        document = (await client.get("/openapi.json")).json()
        operations = _json_operations(document)
        assert operations, f"{service} takes no JSON body"
        for method, path, operation in operations:
            url = re.sub(r"{(\w+)}", lambda _: str(uuid.uuid4()), path)
            for what, (body, message) in BODIES.items():
                response = await client.request(
                    method, url, content=body, headers={"content-type": "application/json"}
                )
                where = f"{method} {path} with {what}"
                assert response.status_code == 422, f"{where}: {response.text}"
                assert str(response.status_code) in operation["responses"], where
                assert response.headers["content-type"] == PROBLEM_JSON, where
                fields = {e["field"]: e["message"] for e in response.json()["errors"]}
                assert list(fields) == ["body"], f"{where}: {fields}"
                assert re.search(message, fields["body"]), f"{where}: {fields}"
