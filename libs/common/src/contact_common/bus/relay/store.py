"""The relay's storage: the outbox rows a pass claims, marking them sent, the backlog.

On PostgreSQL rows are spread over shards by key; a pass claims every shard that has waiting
rows and that no other pass holds, each with a transaction-scoped advisory lock, so one key is
only ever relayed by one pass at a time and in id order (docs/decisions.md). SQLite has no
such locks: there one pass runs at a time and takes the oldest waiting rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Row, any_, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import ColumnElement, TextClause
from sqlalchemy.sql.selectable import TextualSelect

from contact_common.outbox import Outbox


@dataclass(frozen=True)
class Claim:
    """The rows a pass took; they and their shards stay its own until its transaction ends."""

    connection: AsyncConnection = field(repr=False)
    rows: Sequence[Row[*tuple[Any, ...]]]
    # A shard gave all it was allowed: more rows wait behind it.
    full: bool = False
    # A waiting shard was held by another pass: rows committed since that pass read it wait.
    contended: bool = False
    # Not a row was waiting in the whole outbox: the backlog is nil.
    nothing_waiting: bool = False


class OutboxStore:
    """The SQL of a relay over one outbox table, on PostgreSQL or SQLite."""

    def __init__(self, outbox: Outbox, engine: AsyncEngine, *, batch_size: int = 2000) -> None:
        self.outbox = outbox
        self.table = outbox.table
        self.engine = engine
        self.batch_size = batch_size
        # PostgreSQL's advisory locks let passes split the shards; SQLite has none (nor VACUUM).
        self.postgresql = engine.dialect.name == "postgresql"
        self._lock_namespace = f"{self.table.schema or 'public'}.{self.table.name}"
        self._table_sql = engine.dialect.identifier_preparer.format_table(self.table)
        self._columns = (
            self.table.c.id,
            self.table.c.topic,
            self.table.c.key,
            self.table.c.payload,
            self.table.c.created_at,
        )
        if self.postgresql:
            self._lock_shards, self._oldest_rows = _shard_statements(self._table_sql, self._columns)

    @asynccontextmanager
    async def claim(self) -> AsyncIterator[Claim]:
        """Claims the oldest waiting rows, up to a batch, for the length of a transaction."""
        async with self.engine.begin() as connection:
            if self.postgresql:
                yield await self._claim_shards(connection)
            else:
                yield await self._claim_oldest(connection)

    async def mark_sent(self, claim: Claim, *, at: datetime) -> None:
        """Marks the claim's rows published `at`, inside `claim()`'s block (its transaction)."""
        ids = [row.id for row in claim.rows]
        if self.postgresql:
            sent = self.table.c.id == any_(bindparam("ids", ids, type_=ARRAY(BigInteger)))
        else:
            sent = self.table.c.id.in_(ids)
        await claim.connection.execute(update(self.table).where(sent).values(published_at=at))

    async def backlog(self) -> int:
        """How many rows wait to be published."""
        async with self.engine.connect() as connection:
            waiting = await connection.scalar(
                select(func.count())
                .select_from(self.table)
                .where(self.table.c.published_at.is_(None))
            )
        return waiting or 0

    async def delete_published_before(self, cutoff: datetime) -> None:
        """Deletes the rows published before `cutoff`."""
        async with self.engine.begin() as connection:
            await connection.execute(delete(self.table).where(self.table.c.published_at < cutoff))

    async def vacuum(self) -> None:
        """Vacuums the outbox table (PostgreSQL), unless another vacuum of it is under way.

        Each row marked published leaves a dead entry in the partial index of waiting rows
        until a vacuum, and every pass's per-shard probes step over them (EXPLAIN: 60,000 of
        them cost a pass 150-200 ms, 0.1 ms after VACUUM).
        """
        async with self.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            # SKIP_LOCKED: another relay's vacuum of the same table is as good as ours.
            await autocommit.exec_driver_sql(f"VACUUM (SKIP_LOCKED) {self._table_sql}")

    async def _claim_shards(self, connection: AsyncConnection) -> Claim:
        """Locks every waiting shard no other pass holds and reads the oldest rows of each.

        A backlog is then drained by one pass at a time holding every shard, which measured
        faster than passes splitting the shards (their batches interleave on the partitions);
        a row committed during a pass goes out at once in a pass of its own unless its shard
        is held. Within a shard the rows taken are always its oldest waiting ones, in id order,
        which is all that per-key order needs.
        """
        waiting = (
            await connection.execute(
                self._lock_shards, {"last": self.outbox.shards - 1, "ns": self._lock_namespace}
            )
        ).all()
        shards = [row.shard for row in waiting if row.locked]
        contended = len(shards) < len(waiting)
        if not shards:
            return Claim(connection, [], contended=contended, nothing_waiting=not waiting)
        per_shard = -(-self.batch_size // len(shards))
        result = await connection.execute(
            self._oldest_rows, {"shards": shards, "per_shard": per_shard}
        )
        rows = result.all()
        # A shard may have given all it was allowed.
        full = len(rows) >= per_shard
        return Claim(connection, rows, full=full, contended=contended)

    async def _claim_oldest(self, connection: AsyncConnection) -> Claim:
        """The oldest waiting rows: SQLite runs one pass at a time, so no locks are needed."""
        result = await connection.execute(
            select(*self._columns)
            .where(self.table.c.published_at.is_(None))
            .order_by(self.table.c.id)
            .limit(self.batch_size)
        )
        rows = result.all()
        full = len(rows) >= self.batch_size
        return Claim(connection, rows, full=full, nothing_waiting=not rows)


def _shard_statements(
    table: str, columns: Sequence[ColumnElement[Any]]
) -> tuple[TextClause, TextualSelect]:
    """PostgreSQL's two statements of a claim: lock the waiting shards, read their oldest rows."""
    # Every shard with waiting rows that no other pass holds, locked. The CTE is MATERIALIZED
    # so that PostgreSQL cannot push the lock down beside generate_series (it does push a
    # volatile qual into a plain subquery), which would lock every shard, waiting or not.
    lock_shards = text(
        f"""
        WITH waiting AS MATERIALIZED (
            SELECT s.shard FROM generate_series(0, :last) AS s(shard)
            WHERE EXISTS (
                SELECT 1 FROM {table} AS m
                WHERE m.shard = s.shard AND m.published_at IS NULL
            )
        )
        SELECT shard, pg_try_advisory_xact_lock(hashtext(:ns), shard) AS locked FROM waiting
        """
    )
    # Each shard's oldest rows through the partial index, in order, however long the backlog.
    oldest_rows = text(
        f"""
        SELECT r.id, r.topic, r.key, r.payload, r.created_at
        FROM unnest(CAST(:shards AS smallint[])) AS s(shard)
        CROSS JOIN LATERAL (
            SELECT m.id, m.topic, m.key, m.payload, m.created_at FROM {table} AS m
            WHERE m.shard = s.shard AND m.published_at IS NULL
            ORDER BY m.id
            LIMIT :per_shard
        ) AS r
        ORDER BY r.id
        """
    ).columns(*columns)
    return lock_shards, oldest_rows
