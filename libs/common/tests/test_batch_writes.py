"""Tests for a batch's inbox claims and outbox rows on each database: PostgreSQL's array
statements and SQLite's portable ones claim each event once and write the same rows, in order."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import MetaData, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from contact_common.bus.topics import SLA_EVENTS
from contact_common.db import create_session_factory, service_metadata, transaction
from contact_common.events import (
    Channel,
    CloudEvent,
    FeedbackSubmitted,
    FeedbackSubmittedData,
    encode_event,
    topic_for,
)
from contact_common.inbox import claim_many, inbox_table
from contact_common.outbox import Outbox, outbox_table, shard_of

SCHEMA = "t_batch"
metadata = service_metadata(SCHEMA)
inbox_message = inbox_table(metadata)
outbox_message = outbox_table(metadata)


@dataclass
class Store:
    """This test's inbox and outbox on one database."""

    engine: AsyncEngine
    factory: async_sessionmaker[AsyncSession]
    outbox: Outbox


@pytest.fixture
async def store(
    any_url: str, create_tables: Callable[[str, MetaData], Awaitable[AsyncEngine]]
) -> Store:
    engine = await create_tables(any_url, metadata)
    return Store(engine, create_session_factory(engine), Outbox(outbox_message))


def feedback(feedback_id: uuid.UUID | None = None, score: int = 4) -> FeedbackSubmitted:
    """A feedback.submitted event about `feedback_id` (a new contact if none)."""
    feedback_id = feedback_id or uuid.uuid4()
    now = datetime.now(UTC)
    return FeedbackSubmitted(
        source="/test",
        subject=str(feedback_id),
        time=now,
        data=FeedbackSubmittedData(
            feedback_id=feedback_id,
            score=score,
            channel=Channel.portal,
            service_area="waste",
            submitted_at=now,
        ),
    )


# -- the inbox -------------------------------------------------------------------------------------


async def test_a_batch_is_claimed_once_per_consumer(store: Store) -> None:
    first, second, third = (uuid.uuid4() for _ in range(3))
    before = datetime.now(UTC)
    async with transaction(store.factory) as session:
        fresh = await claim_many(
            session,
            inbox_message,
            consumer="reader",
            events=[(first, "call.offered"), (second, "call.answered"), (first, "call.offered")],
        )
        assert await claim_many(session, inbox_message, consumer="reader", events=[]) == set()
    async with transaction(store.factory) as session:
        again = await claim_many(
            session,
            inbox_message,
            consumer="reader",
            events=[(second, "call.answered"), (third, "call.abandoned")],
        )
        other = await claim_many(
            session, inbox_message, consumer="writer", events=[(first, "call.offered")]
        )
        rows = (await session.execute(select(inbox_message))).all()

    # A redelivery within the batch is claimed once, as one in a later batch is not at all.
    assert fresh == {first, second}
    assert again == {third}
    assert other == {first}
    claims = {(row.consumer, row.event_id): row.event_type for row in rows}
    assert claims == {
        ("reader", first): "call.offered",
        ("reader", second): "call.answered",
        ("reader", third): "call.abandoned",
        ("writer", first): "call.offered",
    }
    assert all(before <= row.processed_at <= datetime.now(UTC) for row in rows)
    assert all(row.processed_at.tzinfo is UTC for row in rows)


async def test_claims_roll_back_with_the_work(store: Store) -> None:
    event_id = uuid.uuid4()
    with pytest.raises(RuntimeError, match="the handler failed"):
        async with transaction(store.factory) as session:
            await claim_many(
                session, inbox_message, consumer="reader", events=[(event_id, "call.offered")]
            )
            raise RuntimeError("the handler failed")
    async with transaction(store.factory) as session:
        fresh = await claim_many(
            session, inbox_message, consumer="reader", events=[(event_id, "call.offered")]
        )
    assert fresh == {event_id}


# -- the outbox ------------------------------------------------------------------------------------


async def test_a_batch_of_events_is_written_in_order_and_wakes_the_relay_once(
    store: Store,
) -> None:
    contacts = [uuid.uuid4() for _ in range(3)]
    # Interleaved contacts: each one's events must leave in the order they were added.
    events: list[CloudEvent] = [feedback(c, score=1) for c in contacts]
    events += [feedback(c, score=5) for c in contacts]
    woken: list[bool] = []
    store.outbox.subscribe(wake := lambda: woken.append(True))
    before = datetime.now(UTC)
    try:
        async with transaction(store.factory) as session:
            await store.outbox.add_many(session, events[:4])
            await store.outbox.add(session, events[4])
            await store.outbox.add_many(session, events[5:])
            await store.outbox.add_many(session, [])
        async with transaction(store.factory) as session:
            rows = (await session.execute(select(outbox_message).order_by("id"))).all()
    finally:
        store.outbox.unsubscribe(wake)

    assert woken == [True]
    assert [row.event_id for row in rows] == [e.id for e in events]
    for row, event in zip(rows, events, strict=True):
        assert (row.event_type, row.topic, row.key) == (event.type, topic_for(event), event.subject)
        assert row.shard == shard_of(event.subject)
        assert row.payload == encode_event(event)
        assert before <= row.created_at <= datetime.now(UTC)
        assert row.published_at is None


async def test_a_batch_goes_to_the_topic_asked_for_and_rolls_back_with_the_work(
    store: Store,
) -> None:
    kept, dropped = [feedback() for _ in range(2)], [feedback() for _ in range(2)]
    outbox = Outbox(outbox_message, shards=4)
    woken: list[bool] = []
    outbox.subscribe(wake := lambda: woken.append(True))
    try:
        with pytest.raises(RuntimeError, match="the caller's work failed"):
            async with transaction(store.factory) as session:
                await outbox.add_many(session, list(dropped))
                raise RuntimeError("the caller's work failed")
        async with transaction(store.factory) as session:
            await outbox.add_many(session, list(kept), topic=SLA_EVENTS)
        async with transaction(store.factory) as session:
            rows = (await session.execute(select(outbox_message).order_by("id"))).all()
    finally:
        outbox.unsubscribe(wake)

    assert woken == [True]
    assert [row.event_id for row in rows] == [e.id for e in kept]
    assert all(row.topic == SLA_EVENTS for row in rows)
    assert [row.shard for row in rows] == [shard_of(e.subject, 4) for e in kept]
    assert all(row.created_at - rows[0].created_at < timedelta(seconds=1) for row in rows)


async def test_rows_a_caller_inserts_itself_wake_the_relay_once_committed(store: Store) -> None:
    rolled_back, committed = feedback(), feedback()
    woken: list[bool] = []
    store.outbox.subscribe(wake := lambda: woken.append(True))
    try:
        with pytest.raises(RuntimeError, match="the caller's work failed"):
            async with transaction(store.factory) as session:
                rows = store.outbox.rows_to_insert(session, [rolled_back])
                await session.execute(insert(outbox_message), rows)
                raise RuntimeError("the caller's work failed")
        assert woken == []
        async with transaction(store.factory) as session:
            rows = store.outbox.rows_to_insert(session, [committed])
            assert woken == [], "woken before the commit"
            await session.execute(insert(outbox_message), rows)
        async with transaction(store.factory) as session:
            ids = (await session.execute(select(outbox_message.c.event_id))).scalars().all()
    finally:
        store.outbox.unsubscribe(wake)

    assert woken == [True]
    assert ids == [committed.id]


async def test_a_session_that_cannot_wake_the_relay_is_refused_before_it_writes(
    store: Store,
) -> None:
    # A session made otherwise would never run the wake: its rows would wait for the poll.
    async with AsyncSession(store.engine) as session:
        with pytest.raises(TypeError, match="create_session_factory"):
            await store.outbox.add(session, feedback())
        assert (await session.execute(select(outbox_message))).all() == []
