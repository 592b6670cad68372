"""The outbox end to end: a row and its event in one transaction, relayed over the real broker,
received exactly once by a consumer in another process, across a relay crash and restart and a
broker stop and restart in the middle."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from contact_common.bus.kafka import ensure_topics
from contact_common.bus.relay import OutboxRelay
from contact_common.db import create_engine, create_session_factory
from contact_devtools.broker import DevBroker
from contact_devtools.processes import minimal_env

sys.path.insert(0, str(Path(__file__).parent))
from outbox_app import (  # noqa: E402
    delivery,
    outbox,
    reader_metadata,
    received,
    record_feedback,
    writer_metadata,
)

pytestmark = pytest.mark.e2e

BATCH = 40


async def _count(factory, statement) -> int:  # type: ignore[no-untyped-def]
    async with factory() as session:
        return int(await session.scalar(statement) or 0)


async def _wait(predicate, *, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def test_outbox_events_reach_another_process_exactly_once(
    database_url: str, restartable_broker: DevBroker, tmp_path: Path
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("two processes sharing one SQLite file is not the deployment this proves")
    bootstrap = restartable_broker.bootstrap_servers
    await ensure_topics(bootstrap, partitions=3)
    writer_engine = create_engine(database_url, schema="e2e_writer")
    reader_engine = create_engine(database_url, schema="e2e_reader")
    async with writer_engine.begin() as connection:
        await connection.exec_driver_sql("CREATE SCHEMA e2e_writer")
        await connection.exec_driver_sql("CREATE SCHEMA e2e_reader")
        await connection.run_sync(writer_metadata.create_all)
        await connection.run_sync(reader_metadata.create_all)
    writer = create_session_factory(writer_engine)
    reader = create_session_factory(reader_engine)
    unpublished = (
        select(func.count()).select_from(outbox.table).where(outbox.table.c.published_at.is_(None))
    )

    def new_relay() -> OutboxRelay:
        return OutboxRelay(
            service="e2e-writer",
            outbox=outbox,
            engine=writer_engine,
            bootstrap_servers=bootstrap,
            batch_size=7,
            poll_interval=0.2,
        )

    reader_log = open(tmp_path / "reader.log", "wb")  # noqa: SIM115, ASYNC230
    reader_process = subprocess.Popen(  # noqa: ASYNC220 (started once, not awaited)
        [
            sys.executable,
            str(Path(__file__).parent / "outbox_app.py"),
            "--bootstrap",
            bootstrap,
            "--database-url",
            database_url,
        ],
        stdout=reader_log,
        stderr=subprocess.STDOUT,
        env=minimal_env(),
    )
    written = []
    try:
        # 1. The relay runs; it is killed (cancelled, no clean stop) while it is publishing.
        relay = new_relay()
        relay_task = asyncio.create_task(relay.run())
        for score in range(BATCH):
            written.append(await record_feedback(writer, score % 5 + 1))
        await _wait(
            lambda: _lt(writer, unpublished, BATCH),
            timeout=30,
            what="the relay to start publishing",
        )
        relay_task.cancel()
        await asyncio.gather(relay_task, return_exceptions=True)
        left_by_crash = await _count(writer, unpublished)

        # 2. A new relay takes over where the old one stopped.
        relay = new_relay()
        relay_task = asyncio.create_task(relay.run())
        for score in range(BATCH):
            written.append(await record_feedback(writer, score % 5 + 1))
        await _wait(lambda: _eq(writer, unpublished, 0), timeout=60, what="the outbox to drain")

        # 3. The broker stops: writes still succeed, their events wait in the outbox.
        restartable_broker.stop()
        for score in range(BATCH):
            written.append(await record_feedback(writer, score % 5 + 1))
        await asyncio.sleep(2)
        waiting_while_down = await _count(writer, unpublished)
        assert waiting_while_down == BATCH, "with the broker down every new event must wait"

        # 4. The broker comes back on the same storage: the outbox drains by itself.
        restartable_broker.start()
        await _wait(
            lambda: _eq(writer, unpublished, 0),
            timeout=120,
            what="the outbox to drain after the broker came back",
        )
        total = len(written)
        await _wait(
            lambda: _eq(reader, select(func.count()).select_from(received), total),
            timeout=180,
            what=f"the reader to receive all {total} events",
        )
        relay.stop()
        await asyncio.wait_for(relay_task, timeout=30)
    finally:
        reader_process.terminate()
        reader_process.wait(timeout=30)
        reader_log.close()

    async with reader() as session:
        subjects = (await session.execute(select(received.c.subject))).scalars().all()
        deliveries = await session.scalar(select(func.count()).select_from(delivery))
    assert sorted(subjects) == sorted(str(i) for i in written), "each event exactly once"
    assert deliveries >= total
    print(
        f"\noutbox e2e: written={total} received={len(subjects)} deliveries={deliveries} "
        f"(duplicates absorbed by the inbox: {deliveries - len(subjects)}), "
        f"left unpublished by the relay crash={left_by_crash}, waited while broker down="
        f"{waiting_while_down}"
    )
    await writer_engine.dispose()
    await reader_engine.dispose()


async def _eq(factory, statement, value: int) -> bool:  # type: ignore[no-untyped-def]
    return await _count(factory, statement) == value


async def _lt(factory, statement, value: int) -> bool:  # type: ignore[no-untyped-def]
    return await _count(factory, statement) < value
