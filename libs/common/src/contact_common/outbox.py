"""The transactional outbox: a state change and its event written in one transaction.

A service calls `Outbox.add(session, event)` inside the transaction that changes its state;
the `OutboxRelay` (bus/relay) later publishes the row to Kafka and marks it sent. If the
transaction rolls back, the event never existed; if the broker is down, the row waits. `add`
also asks the session to wake this process's relay when the transaction commits.

When tracing is on, each row carries the W3C `traceparent` of the span that wrote it (a
request's, or a consumer's for the event it handled): in its own column, to find a trace's rows,
and on the event as the CloudEvents distributed-tracing extension, so the relay publishes it
unchanged inside the structured-mode message (contact_common.tracing).

On PostgreSQL `add_many` is one array statement (`unnest`) whatever the batch's size; SQLite
takes the portable multi-row insert.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Uuid,
    insert,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.db import (
    UTCDateTime,
    after_commit,
    is_postgresql,
    postgresql_arrays,
    postgresql_name,
)
from contact_common.events import CloudEvent, encode_event, topic_for
from contact_common.tracing import trace_context_for

DEFAULT_SHARDS = 16
_ARRAY_COLUMNS = ("event_id", "event_type", "topic", "key", "shard", "payload", "traceparent")
TRACEPARENT_LENGTH = 55
"""A W3C traceparent of version 00: `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`."""


def outbox_table(metadata: MetaData) -> Table:
    """The outbox table in a service's own schema."""
    table = Table(
        "outbox_message",
        metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("event_type", String(100), nullable=False),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("shard", SmallInteger, nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("published_at", UTCDateTime, nullable=True),
        # The trace of the request or message that wrote the row; null when not traced.
        Column("traceparent", String(TRACEPARENT_LENGTH), nullable=True),
    )
    # Only unpublished rows are ever searched, so the index holds only them.
    Index(
        "ix_outbox_message_unpublished",
        table.c.shard,
        table.c.id,
        postgresql_where=table.c.published_at.is_(None),
        sqlite_where=table.c.published_at.is_(None),
    )
    return table


def shard_of(key: str, shards: int = DEFAULT_SHARDS) -> int:
    """A stable shard for a key: one key's rows are only ever relayed by one relay at a time."""
    return zlib.crc32(key.encode()) % shards


class Outbox:
    """Adds events to a service's outbox inside the caller's transaction."""

    def __init__(self, table: Table, *, shards: int = DEFAULT_SHARDS) -> None:
        self.table = table
        self.shards = shards
        # The wakes of this process's relays, called after a commit that added rows.
        self._relays: list[Callable[[], None]] = []
        columns = ", ".join(_ARRAY_COLUMNS)
        # Numbered in the order of the arrays, so one key's rows leave in the order added.
        self._insert_arrays = text(
            f"INSERT INTO {postgresql_name(table)} ({columns}, created_at) "
            f"SELECT {columns}, CAST(:created_at AS TIMESTAMP WITH TIME ZONE) "
            f"FROM unnest({postgresql_arrays(table, _ARRAY_COLUMNS)}) WITH ORDINALITY "
            f"AS added ({columns}, position) ORDER BY position"
        )

    def subscribe(self, wake: Callable[[], None]) -> None:
        """Calls `wake` after every commit that added rows to this outbox (a relay's wake)."""
        self._relays.append(wake)

    def unsubscribe(self, wake: Callable[[], None]) -> None:
        """Stops calling `wake`."""
        if wake in self._relays:
            self._relays.remove(wake)

    async def add(
        self, session: AsyncSession, event_: CloudEvent, *, topic: str | None = None
    ) -> None:
        """Writes `event_` to the outbox in the session's transaction (no commit here)."""
        await self.add_many(session, [event_], topic=topic)

    async def add_many(
        self, session: AsyncSession, events: list[CloudEvent], *, topic: str | None = None
    ) -> None:
        """Writes several events in one statement, in order; the relay wakes on the commit."""
        if not events:
            return
        after_commit(session, self._wake_relays)
        if is_postgresql(session):
            await session.execute(self._insert_arrays, self._arrays(events, topic=topic))
        else:
            await session.execute(insert(self.table), self._rows(events, topic=topic))

    def rows_to_insert(
        self, session: AsyncSession, events: list[CloudEvent], *, topic: str | None = None
    ) -> list[dict[str, Any]]:
        """The outbox rows of `events`, for a caller that inserts them in a statement of its own
        in the session's transaction; the relay wakes on the commit, as for `add_many`."""
        after_commit(session, self._wake_relays)
        return self._rows(events, topic=topic)

    def _rows(self, events: list[CloudEvent], *, topic: str | None = None) -> list[dict[str, Any]]:
        """The outbox rows of `events` (the caller asks for the relay's wake)."""
        now = datetime.now(UTC)
        events = [_traced(e) for e in events]
        return [
            {
                "event_id": e.id,
                "event_type": e.type,
                "topic": topic or topic_for(e),
                "key": e.subject,
                "shard": shard_of(e.subject, self.shards),
                "payload": encode_event(e),
                "created_at": now,
                "traceparent": _traceparent(e),
            }
            for e in events
        ]

    def _arrays(self, events: list[CloudEvent], *, topic: str | None) -> dict[str, Any]:
        # The rows of `_rows` as one list per column, for the array statement.
        events = [_traced(e) for e in events]
        keys = [e.subject for e in events]
        return {
            "event_id": [e.id for e in events],
            "event_type": [e.type for e in events],
            "topic": [topic or topic_for(e) for e in events],
            "key": keys,
            "shard": [shard_of(key, self.shards) for key in keys],
            "payload": [encode_event(e) for e in events],
            "traceparent": [_traceparent(e) for e in events],
            "created_at": datetime.now(UTC),
        }

    def _wake_relays(self) -> None:
        """Wakes this process's relays: the rows a transaction added have been committed.

        Not PostgreSQL's NOTIFY: a notifying transaction holds a database-wide lock through its
        commit, so every writing transaction of every service on the database committed one at
        a time (measured: 300 transactions/s with NOTIFY, 1,270-1,580 without, 32 clients).
        Every process that writes an outbox runs its own relay; another process's relay finds
        the rows on its poll (docs/decisions.md).
        """
        for wake in self._relays:
            wake()


def _traced(event_: CloudEvent) -> CloudEvent:
    """The event with the trace context of the span writing it, unless it carries one already
    (an event republished as it came keeps its own trace) or nothing is traced."""
    if "traceparent" in event_.extensions:
        return event_
    context = trace_context_for(event_.subject)
    return event_.with_extensions(**context) if context else event_


def _traceparent(event_: CloudEvent) -> str | None:
    value = event_.extensions.get("traceparent")
    return value if isinstance(value, str) and len(value) <= TRACEPARENT_LENGTH else None
