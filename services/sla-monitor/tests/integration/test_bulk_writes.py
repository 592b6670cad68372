"""The consumer's batch writes on PostgreSQL: each event claimed once, its notices in order."""

from __future__ import annotations

import sys
from datetime import date, time, timedelta
from pathlib import Path

from sqlalchemy import select

from contact_common.db import create_engine, create_session_factory, transaction
from contact_common.events import encode_event, topic_for
from contact_common.inbox import claim_many
from contact_common.migrations import upgrade
from contact_common.outbox import shard_of
from sla_monitor.models import inbox_message, outbox, outbox_message

from .conftest import SERVICE_DIR

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from upstream_events import Call, london  # noqa: E402

T0 = london(date(2026, 6, 3), time(10))


async def test_a_batch_is_claimed_once_and_its_outbox_rows_keep_their_order(
    database_url: str,
) -> None:
    await upgrade(SERVICE_DIR, database_url)
    engine = create_engine(database_url, schema="sla")
    sessions = create_session_factory(engine)
    calls = [Call(T0 + timedelta(seconds=n)) for n in range(3)]
    # Interleaved contacts: each one's events must leave in the order they were added.
    events = [c.offered() for c in calls] + [c.answered(timedelta(seconds=5)) for c in calls]
    woken: list[bool] = []
    outbox.subscribe(wake := lambda: woken.append(True))
    try:
        async with transaction(sessions) as session:
            fresh = await claim_many(
                session, inbox_message, consumer="test", events=[(e.id, e.type) for e in events[:4]]
            )
            await outbox.add_many(session, events)
        async with transaction(sessions) as session:
            again = await claim_many(
                session, inbox_message, consumer="test", events=[(e.id, e.type) for e in events]
            )
            rows = (await session.execute(select(outbox_message).order_by("id"))).all()
    finally:
        outbox.unsubscribe(wake)
        await engine.dispose()
    assert fresh == {e.id for e in events[:4]}
    assert again == {e.id for e in events[4:]}
    assert woken == [True]
    assert [row.event_id for row in rows] == [e.id for e in events]
    for row, event in zip(rows, events, strict=True):
        assert (row.event_type, row.topic, row.key) == (event.type, topic_for(event), event.subject)
        assert row.shard == shard_of(event.subject)
        assert row.payload == encode_event(event)
        assert row.published_at is None
