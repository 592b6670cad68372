"""The inbox: the ids of events a consumer has already handled, so handling is idempotent.

A consumer claims an event id in the same transaction as the work the event causes; a second
delivery finds the claim and changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Column, CursorResult, MetaData, String, Table, TextClause, Uuid, text
from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.db import (
    UTCDateTime,
    insert_for,
    is_postgresql,
    postgresql_arrays,
    postgresql_name,
)


def inbox_table(metadata: MetaData) -> Table:
    """The inbox table in a service's own schema."""
    return Table(
        "inbox_message",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", Uuid, primary_key=True),
        Column("event_type", String(100), nullable=False),
        Column("processed_at", UTCDateTime, nullable=False),
    )


async def claim(
    session: AsyncSession, table: Table, *, consumer: str, event_id: UUID, event_type: str
) -> bool:
    """Records that `consumer` handles `event_id`; False if it was handled before."""
    statement = (
        insert_for(session, table)
        .values(
            consumer=consumer,
            event_id=event_id,
            event_type=event_type,
            processed_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing()
    )
    # An INSERT runs on a cursor; the generic Result in execute()'s signature has no rowcount.
    result = cast(CursorResult[Any], await session.execute(statement))
    return result.rowcount == 1


async def claim_many(
    session: AsyncSession, table: Table, *, consumer: str, events: list[tuple[UUID, str]]
) -> set[UUID]:
    """Claims a batch of (event id, type) in one statement; returns the ids not seen before."""
    if not events:
        return set()
    now = datetime.now(UTC)
    if is_postgresql(session):
        result = await session.execute(
            _claim_arrays(table),
            {
                "consumer": consumer,
                "event_id": [event_id for event_id, _ in events],
                "event_type": [event_type for _, event_type in events],
                "processed_at": now,
            },
        )
        return set(result.scalars())
    statement = (
        insert_for(session, table)
        .values(
            [
                {
                    "consumer": consumer,
                    "event_id": event_id,
                    "event_type": event_type,
                    "processed_at": now,
                }
                for event_id, event_type in events
            ]
        )
        .on_conflict_do_nothing()
        .returning(table.c.event_id)
    )
    result = await session.execute(statement)
    return set(result.scalars())


@cache
def _claim_arrays(table: Table) -> TextClause:
    # One array per column: the same prepared statement whatever the batch's size, where a
    # multi-row INSERT was compiled afresh for each size and bound each value in Python.
    return text(
        f"INSERT INTO {postgresql_name(table)} (consumer, event_id, event_type, processed_at) "
        "SELECT :consumer, claimed.event_id, claimed.event_type, "
        "CAST(:processed_at AS TIMESTAMP WITH TIME ZONE) "
        f"FROM unnest({postgresql_arrays(table, ('event_id', 'event_type'))}) "
        "AS claimed (event_id, event_type) "
        "ON CONFLICT DO NOTHING RETURNING event_id"
    )
