"""A writer and a reader of the smallest shape, to prove the outbox and the inbox end to end.

The writer records feedback scores (a row and its `feedback.submitted` event in one
transaction); the reader, in another process, keeps one row per event it handled.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Column, Integer, String, Table, Uuid, insert

from contact_common.bus.consumer import ConsumedEvent, EventConsumer
from contact_common.bus.topics import CONTACT_EVENTS
from contact_common.db import (
    UTCDateTime,
    create_engine,
    create_session_factory,
    service_metadata,
    transaction,
)
from contact_common.events import Channel, FeedbackSubmitted, FeedbackSubmittedData
from contact_common.inbox import claim_many, inbox_table
from contact_common.outbox import Outbox, outbox_table

writer_metadata = service_metadata("e2e_writer")
feedback = Table(
    "feedback",
    writer_metadata,
    Column("id", Uuid, primary_key=True),
    Column("score", Integer, nullable=False),
    Column("submitted_at", UTCDateTime, nullable=False),
)
outbox = Outbox(outbox_table(writer_metadata))

reader_metadata = service_metadata("e2e_reader")
inbox = inbox_table(reader_metadata)
received = Table(
    "received",
    reader_metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("subject", String(100), nullable=False),
    Column("partition", Integer, nullable=False),
)
# Every delivery, duplicates included: shows what the inbox absorbed.
delivery = Table(
    "delivery",
    reader_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Uuid, nullable=False),
)


def feedback_event(feedback_id: uuid.UUID, score: int, at: datetime) -> FeedbackSubmitted:
    """The event of one feedback row."""
    return FeedbackSubmitted(
        source="/e2e-writer",
        subject=str(feedback_id),
        time=at,
        data=FeedbackSubmittedData(
            feedback_id=feedback_id,
            score=score,
            channel=Channel.portal,
            service_area="waste",
            submitted_at=at,
        ),
    )


async def record_feedback(session_factory, score: int) -> uuid.UUID:  # type: ignore[no-untyped-def]
    """The writer's unit of work: the row and its event, committed together."""
    feedback_id = uuid.uuid4()
    now = datetime.now(UTC)
    async with transaction(session_factory) as session:
        await session.execute(
            insert(feedback).values(id=feedback_id, score=score, submitted_at=now)
        )
        await outbox.add(session, feedback_event(feedback_id, score, now))
    return feedback_id


async def run_reader(bootstrap: str, database_url: str) -> None:
    """The reader process: consume contact.events into `received`, each event once."""
    engine = create_engine(database_url, schema="e2e_reader")
    factory = create_session_factory(engine)

    async def handle(batch: Sequence[ConsumedEvent]) -> None:
        async with transaction(factory) as session:
            await session.execute(insert(delivery), [{"event_id": i.event.id} for i in batch])
            fresh = await claim_many(
                session,
                inbox,
                consumer="e2e-reader",
                events=[(i.event.id, i.event.type) for i in batch],
            )
            rows = [
                {"event_id": i.event.id, "subject": i.event.subject, "partition": i.partition}
                for i in batch
                if i.event.id in fresh
            ]
            if rows:
                await session.execute(insert(received), rows)

    consumer = EventConsumer(
        group_id="e2e-reader",
        topics=[CONTACT_EVENTS],
        bootstrap_servers=bootstrap,
        handler=handle,
    )
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, consumer.stop)
    await consumer.run()
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--database-url", required=True)
    arguments = parser.parse_args()
    asyncio.run(run_reader(arguments.bootstrap, arguments.database_url))
