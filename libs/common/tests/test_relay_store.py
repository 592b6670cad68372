"""Tests for the relay's store on each database: which rows a claim takes, in what order, what
marking them does, and on PostgreSQL how passes at once share the shards."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import MetaData, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from contact_common.bus.relay.store import OutboxStore
from contact_common.db import is_sqlite, service_metadata
from contact_common.outbox import Outbox, outbox_table, shard_of

SCHEMA = "t_relay_store"
metadata = service_metadata(SCHEMA)
outbox_message = outbox_table(metadata)

CreateTables = Callable[[str, MetaData], Awaitable[AsyncEngine]]
OpenStore = Callable[[int], OutboxStore]


@pytest.fixture
async def open_store(any_url: str, create_tables: CreateTables) -> OpenStore:
    """Stores over this test's outbox on each database, with the batch size asked for."""
    engine = await create_tables(any_url, metadata)
    return lambda batch_size: OutboxStore(Outbox(outbox_message), engine, batch_size=batch_size)


@pytest.fixture
async def open_postgres_store(database_url: str, create_tables: CreateTables) -> OpenStore:
    """The same on PostgreSQL alone."""
    if is_sqlite(database_url):
        pytest.skip("needs PostgreSQL (advisory locks); none answered")
    engine = await create_tables(database_url, metadata)
    return lambda batch_size: OutboxStore(Outbox(outbox_message), engine, batch_size=batch_size)


def key_in_shard(shard: int) -> str:
    """A key that `shard_of` puts in `shard`."""
    return next(key for n in count() if shard_of(key := f"contact-{n}") == shard)


async def write(store: OutboxStore, *keys: str) -> list[int]:
    """Commits one waiting row per key, in the order given; returns their ids."""
    now = datetime.now(UTC)
    rows = [
        {
            "event_id": uuid.uuid4(),
            "event_type": "feedback.submitted",
            "topic": "contact.events",
            "key": key,
            "shard": shard_of(key),
            "payload": f"{key} #{position}".encode(),
            "created_at": now,
        }
        for position, key in enumerate(keys)
    ]
    event_ids = [row["event_id"] for row in rows]
    async with store.engine.begin() as connection:
        await connection.execute(insert(outbox_message), rows)
        written = await connection.execute(
            select(outbox_message.c.event_id, outbox_message.c.id).where(
                outbox_message.c.event_id.in_(event_ids)
            )
        )
        ids = {event_id: row_id for event_id, row_id in written}
    return [ids[event_id] for event_id in event_ids]


async def published(store: OutboxStore) -> dict[int, datetime | None]:
    async with store.engine.connect() as connection:
        rows = await connection.execute(select(outbox_message.c.id, outbox_message.c.published_at))
        return {row_id: at for row_id, at in rows}


# -- on each database ----------------------------------------------------------------------------


async def test_claims_take_the_oldest_waiting_rows_in_order_a_batch_at_a_time(
    open_store: OpenStore,
) -> None:
    store = open_store(3)
    key = key_in_shard(5)
    ids = await write(store, key, key, key, key, key)
    assert await store.backlog() == 5
    sent_at = datetime.now(UTC)

    async with store.claim() as first:
        assert [row.id for row in first.rows] == ids[:3]
        assert (first.full, first.contended, first.nothing_waiting) == (True, False, False)
        assert [row.payload for row in first.rows] == [f"{key} #{i}".encode() for i in range(3)]
        await store.mark_sent(first, at=sent_at)
    assert await store.backlog() == 2
    async with store.claim() as second:
        assert [row.id for row in second.rows] == ids[3:]
        assert not second.full
        await store.mark_sent(second, at=sent_at)
    async with store.claim() as last:
        assert last.rows == []
        assert last.nothing_waiting
    assert await store.backlog() == 0
    assert set((await published(store)).values()) == {sent_at}


async def test_a_claim_whose_transaction_fails_leaves_its_rows_waiting(
    open_store: OpenStore,
) -> None:
    # As when the broker fails to acknowledge: the rows go again on a later pass.
    store = open_store(10)
    ids = await write(store, key_in_shard(1), key_in_shard(2))
    with pytest.raises(TimeoutError):
        async with store.claim() as claim:
            await store.mark_sent(claim, at=datetime.now(UTC))
            raise TimeoutError("no acknowledgement")
    assert await published(store) == dict.fromkeys(ids)
    async with store.claim() as again:
        assert [row.id for row in again.rows] == ids


async def test_only_rows_published_before_the_cutoff_are_deleted(
    open_store: OpenStore,
) -> None:
    store = open_store(10)
    old, recent, waiting = await write(store, "a", "b", "c")
    now = datetime.now(UTC)
    async with store.engine.begin() as connection:
        for row_id, at in ((old, now - timedelta(days=2)), (recent, now - timedelta(hours=1))):
            await connection.execute(
                update(outbox_message).where(outbox_message.c.id == row_id).values(published_at=at)
            )
    await store.delete_published_before(now - timedelta(days=1))
    assert set(await published(store)) == {recent, waiting}


# -- PostgreSQL: shards under advisory locks ------------------------------------------------------


async def test_a_claim_shares_its_batch_among_the_waiting_shards(
    open_postgres_store: OpenStore,
) -> None:
    store = open_postgres_store(6)
    a, b, c = key_in_shard(0), key_in_shard(7), key_in_shard(15)
    ids = await write(store, a, b, c, a, b, c, a, b, c, a)
    async with store.claim() as claim:
        # Two each, the oldest of each shard, in id order across them: a key's order holds.
        assert [row.id for row in claim.rows] == ids[:6]
        assert claim.full


async def test_passes_at_once_never_share_a_shard(
    open_postgres_store: OpenStore,
) -> None:
    store = open_postgres_store(100)
    held, free = key_in_shard(3), key_in_shard(4)
    [first] = await write(store, held)
    async with store.claim() as holding:
        assert [row.id for row in holding.rows] == [first]
        # Committed while the first pass holds its shard: only the free shard's row may go.
        later_held, later_free = await write(store, held, free)
        async with store.claim() as other:
            assert [row.id for row in other.rows] == [later_free]
            assert other.contended, "a waiting shard was held: a pass must look again"
            await store.mark_sent(other, at=datetime.now(UTC))
        await store.mark_sent(holding, at=datetime.now(UTC))
    async with store.claim() as after:
        assert [row.id for row in after.rows] == [later_held]
        assert not after.contended


async def test_a_vacuum_of_the_outbox_runs_beside_a_claim(
    open_postgres_store: OpenStore,
) -> None:
    store = open_postgres_store(10)
    await write(store, "a")
    async with store.claim() as claim:
        # VACUUM (SKIP_LOCKED) waits for nobody: a pass in flight does not hold it up.
        await asyncio.wait_for(store.vacuum(), timeout=10)
        assert len(claim.rows) == 1
