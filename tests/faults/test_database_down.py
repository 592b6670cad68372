"""A database that cannot be reached is a 503 with Retry-After, not a 500, and the API recovers.

enquiry-api reaches PostgreSQL through the suite's TCP proxy; closing the proxy makes every new
connection refused (as a database host that is down does) and every pooled one closed.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from contact_common.errors import PROBLEM_JSON
from contact_devtools.testing import running_service
from enquiry_api.config import Settings as EnquirySettings
from enquiry_api.main import create_app as enquiry_app

sys.path.insert(0, str(Path(__file__).parent))
from proxy import TcpProxy  # noqa: E402

pytestmark = pytest.mark.e2e

ENQUIRY = {
    "channel": "email",
    "service_area": "waste",
    "received_at": "2026-06-03T09:00:00Z",
    "description": "Bin not collected",
}


async def test_an_unreachable_database_is_a_503_and_the_api_recovers(
    database_url: str,
    kafka_bootstrap: str,
    api_keys_file: Path,
    issue_api_key: Callable[..., str],
) -> None:
    if database_url.startswith("sqlite"):
        pytest.fail("this test needs PostgreSQL, and none answered on 127.0.0.1:5432")
    url = make_url(database_url)
    proxy = await TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    proxied = url.set(port=proxy.port).render_as_string(hide_password=False)
    token = issue_api_key("enquiries:read", "enquiries:write")
    try:
        async with (
            running_service(
                enquiry_app,
                EnquirySettings,
                service="enquiry-api",
                database_url=proxied,
                kafka_bootstrap=kafka_bootstrap,
                api_keys_file=api_keys_file,
            ) as server,
            httpx.AsyncClient(
                base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ) as client,
        ):
            assert (await client.get("/v1/enquiries")).status_code == 200

            await proxy.stop()  # the database host is gone: connections closed, new ones refused
            for answer in (
                await client.get("/v1/enquiries"),
                await client.post("/v1/enquiries", json=ENQUIRY),
            ):
                assert answer.status_code == 503, answer.text
                assert answer.headers["content-type"] == PROBLEM_JSON
                assert answer.headers["retry-after"] == "1"
                assert answer.json()["type"].endswith("/database-unavailable")
            before = proxy.stats.connections

            await proxy.start(port=proxy.port)  # back: the pool reconnects by itself
            for _ in range(50):
                answer = await client.post("/v1/enquiries", json=ENQUIRY)
                if answer.status_code == 201:
                    break
                assert answer.status_code == 503, answer.text
                await asyncio.sleep(0.2)
            assert answer.status_code == 201, answer.text
            assert proxy.stats.connections > before  # a new connection, not a held one
            listed = (await client.get("/v1/enquiries")).json()
            assert len(listed["items"]) == 1  # the refused POST saved nothing
    finally:
        await proxy.stop()
