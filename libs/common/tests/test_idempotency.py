"""The Idempotency-Key store on real databases, and its pure parts (header, fingerprint)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_common.db import create_engine, create_session_factory, service_metadata, transaction
from contact_common.idempotency import (
    Claim,
    IdempotencyKeyInFlight,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    IdempotencyPurger,
    IdempotencyStore,
    KeyScope,
    StoredAnswer,
    fingerprint,
    idempotency_table,
    parse_key,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SCOPE = KeyScope("key-1", "POST", "/v1/things", "k")
ANSWER = StoredAnswer(201, {"location": "/v1/things/1"}, b'{"id":1}')


def test_a_key_is_an_sf_string_or_bare_printable_characters() -> None:
    assert parse_key('"abc \\"quoted\\" \\\\ x"') == 'abc "quoted" \\ x'
    assert parse_key("  8e03978e-40d5  ") == "8e03978e-40d5"
    assert parse_key("x" * 255) == "x" * 255
    for bad in ("", '""', "x" * 256, "caf\u00e9", "tab\there"):
        with pytest.raises(IdempotencyKeyInvalid):
            parse_key(bad)


def test_the_fingerprint_is_of_canonical_json() -> None:
    assert fingerprint(b'{"a": 1, "b": [1, 2]}') == fingerprint(b'{"b":[1,2],"a":1}')
    assert fingerprint(b'{"a": 1}') == fingerprint({"a": 1})
    assert fingerprint(b'{"a": 1}') != fingerprint(b'{"a": 2}')
    assert fingerprint(b"") == fingerprint(b"  ") != fingerprint(b"{}")
    assert fingerprint(b"not json") != fingerprint(b"not json!")


@pytest.fixture(params=["postgresql", "sqlite"])
async def store_and_sessions(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[IdempotencyStore, async_sessionmaker[AsyncSession]]]:
    """A store on its own table, in PostgreSQL (the test's database) or SQLite."""
    url = database_url if request.param == "postgresql" else f"sqlite+aiosqlite:///{tmp_path}/k.db"
    metadata = service_metadata("idem")
    table = idempotency_table(metadata)
    engine = create_engine(url, schema="idem")
    try:
        async with engine.begin() as connection:
            if request.param == "postgresql":
                await connection.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS idem")
            await connection.run_sync(metadata.create_all)
        yield IdempotencyStore(table, lease=timedelta(seconds=60)), create_session_factory(engine)
    finally:
        await engine.dispose()


async def test_claim_answer_replay_reuse_lease_and_purge(
    store_and_sessions: tuple[IdempotencyStore, async_sessionmaker[AsyncSession]],
) -> None:
    store, sessions = store_and_sessions
    claim = await store.claim(sessions, scope=SCOPE, fingerprint="f1", now=NOW)
    assert isinstance(claim, Claim)
    with pytest.raises(IdempotencyKeyInFlight):
        await store.claim(sessions, scope=SCOPE, fingerprint="f1", now=NOW + timedelta(seconds=5))
    with pytest.raises(IdempotencyKeyReused):
        await store.claim(sessions, scope=SCOPE, fingerprint="f2", now=NOW)
    async with transaction(sessions) as session:
        await store.complete(session, claim, ANSWER, now=NOW)
    assert await store.claim(sessions, scope=SCOPE, fingerprint="f1", now=NOW) == ANSWER
    # Another API key, method or path is another key.
    other = KeyScope("key-2", "POST", "/v1/things", "k")
    assert isinstance(await store.claim(sessions, scope=other, fingerprint="f1", now=NOW), Claim)

    # A claim never answered is taken over after the lease; the first holder's answer is then
    # refused, so only one request's work stands.
    stale = KeyScope("key-1", "POST", "/v1/things", "stale")
    first = await store.claim(sessions, scope=stale, fingerprint="f", now=NOW)
    second = await store.claim(
        sessions, scope=stale, fingerprint="f", now=NOW + timedelta(minutes=2)
    )
    assert isinstance(first, Claim) and isinstance(second, Claim)
    with pytest.raises(IdempotencyKeyInFlight):
        async with transaction(sessions) as session:
            await store.complete(session, first, ANSWER)
    async with transaction(sessions) as session:
        await store.complete(session, second, ANSWER)

    # A released claim frees the key for another body.
    freed = KeyScope("key-1", "POST", "/v1/things", "freed")
    released = await store.claim(sessions, scope=freed, fingerprint="bad body", now=NOW)
    assert isinstance(released, Claim)
    await store.release(sessions, released)
    assert isinstance(await store.claim(sessions, scope=freed, fingerprint="good", now=NOW), Claim)

    # Kept for the retention, purged after it; an expired key is new again even before a purge.
    retention = store.retention
    assert await store.purge(sessions, now=NOW + retention - timedelta(seconds=1)) == 0
    later = NOW + retention + timedelta(seconds=1)
    assert isinstance(await store.claim(sessions, scope=SCOPE, fingerprint="f2", now=later), Claim)
    assert await store.purge(sessions, now=later) == 3  # other, stale, freed: not the re-claim
    assert await store.purge(sessions, now=later + retention + timedelta(seconds=1)) == 1


def test_keys_are_kept_at_least_a_day() -> None:
    with pytest.raises(ValueError, match="24 hours"):
        IdempotencyStore(idempotency_table(service_metadata("idem")), retention=timedelta(hours=1))


async def test_the_purger_deletes_expired_keys_in_the_background(
    store_and_sessions: tuple[IdempotencyStore, async_sessionmaker[AsyncSession]],
) -> None:
    store, sessions = store_and_sessions
    now = datetime.now(UTC)
    expired = KeyScope("key-1", "POST", "/v1/things", "old")
    kept = KeyScope("key-1", "POST", "/v1/things", "new")
    await store.claim(sessions, scope=expired, fingerprint="f", now=now - store.retention)
    await store.claim(sessions, scope=kept, fingerprint="f", now=now)
    purger = IdempotencyPurger(store, sessions, interval=timedelta(seconds=30))
    task = asyncio.create_task(purger.run())
    try:
        for _ in range(100):
            async with sessions() as session:
                left = (await session.execute(select(store.table.c.idempotency_key))).scalars()
                keys = set(left)
            if keys == {"new"}:
                break
            await asyncio.sleep(0.05)
        assert keys == {"new"}
    finally:
        purger.stop()
        await asyncio.wait_for(task, timeout=5)
    assert task.done() and task.exception() is None
