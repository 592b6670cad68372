"""Pooled connections the server ended are replaced at checkout, without pre-ping's round trips."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from contact_common.db import create_engine, is_sqlite


async def test_the_pool_replaces_connections_the_database_ended(database_url: str) -> None:
    if is_sqlite(database_url):
        pytest.skip("ending server connections needs PostgreSQL (CI always has it)")
    engine = create_engine(database_url, schema="enquiry")  # the services' engine, no pre-ping

    async def backend() -> int:
        async with engine.connect() as connection:
            pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await asyncio.sleep(0.05)  # held, so the three checkouts fill three connections
            return int(pid)

    try:
        before = set(await asyncio.gather(backend(), backend(), backend()))
        assert len(before) == 3
        dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
        admin = await asyncpg.connect(dsn)
        try:
            for pid in before:  # as a restart or a fault injector's reset would
                assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        await asyncio.sleep(0.3)  # the server's FIN reaches the pooled sockets
        after = set(await asyncio.gather(backend(), backend(), backend()))
        assert not after & before  # every checkout got a new connection, none failed
    finally:
        await engine.dispose()
