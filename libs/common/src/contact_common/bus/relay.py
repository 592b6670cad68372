"""The outbox relay: publishes outbox rows to Kafka in order per key, then marks them sent.

Several relays may run (one per API process). Rows are spread over shards by key; a pass takes
every shard that has rows and that no other pass holds, each with a transaction-scoped advisory
lock, so one key is only ever relayed by one pass at a time and in id order. A pass sends all its
rows before it awaits any acknowledgement, marks them sent with one UPDATE and commits. A relay
runs a few passes at once (each on shards the others do not hold), so a row committed during a
pass goes out at once unless its shard is in that pass. It wakes on a commit in its own process
(every process that writes an outbox runs a relay) or on a poll, which finds rows that other
processes wrote; while the broker is down it backs off and the rows wait. `stop()` lets the
passes in flight finish (sent rows are marked) and starts none.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import BigInteger, Row, any_, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from contact_common.bus.kafka import create_producer
from contact_common.logs import get_logger
from contact_common.outbox import Outbox

log = get_logger(__name__)

OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_PUBLISHED = Counter("outbox_published_total", "Outbox rows published", ["service"])
OUTBOX_FAILURES = Counter("outbox_publish_failures_total", "Failed publish attempts", ["service"])
OUTBOX_LAG = Histogram(
    "outbox_publish_lag_seconds",
    "From outbox commit to broker acknowledgement",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)

CONTENDED_RETRY = 0.01  # seconds before a pass looks again at a shard another pass held

_RELAY_ERRORS = (KafkaError, OSError, TimeoutError, asyncpg.PostgresError)


class OutboxRelay:
    """Moves a service's outbox to Kafka."""

    def __init__(
        self,
        *,
        service: str,
        outbox: Outbox,
        engine: AsyncEngine,
        session_factory: async_sessionmaker[AsyncSession],
        bootstrap_servers: str,
        batch_size: int = 2000,
        poll_interval: float = 1.0,
        retention: timedelta = timedelta(days=1),
        concurrent_passes: int = 3,
        vacuum_after: int = 5000,
    ) -> None:
        self.service = service
        self.outbox = outbox
        self.table = outbox.table
        self.engine = engine
        self.session_factory = session_factory
        self.bootstrap_servers = bootstrap_servers
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.retention = retention
        self.is_postgres = engine.dialect.name == "postgresql"
        # Without advisory locks (SQLite) two passes would send the same rows: one at a time.
        self.concurrent_passes = concurrent_passes if self.is_postgres else 1
        self._lock_namespace = f"{self.table.schema or 'public'}.{self.table.name}"
        self._producer: AIOKafkaProducer | None = None
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._passes: set[asyncio.Task[int]] = set()
        self.broker_available = False
        self.vacuum_after = vacuum_after
        self._published_since_vacuum = 0
        self._vacuum: asyncio.Task[None] | None = None
        self._columns = (
            self.table.c.id,
            self.table.c.topic,
            self.table.c.key,
            self.table.c.payload,
            self.table.c.created_at,
        )
        table = engine.dialect.identifier_preparer.format_table(self.table)
        self._table_sql = table
        # Every shard with waiting rows that no other pass holds, locked. The CTE is MATERIALIZED
        # so that PostgreSQL cannot push the lock down beside generate_series (it does push a
        # volatile qual into a plain subquery), which would lock every shard, waiting or not.
        self._lock_shards = text(
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
        # Set by a pass that may have left rows behind: a full shard (more wait behind it), or a
        # waiting shard that another pass held (its rows may have been committed after that
        # pass read them). Only then does a pass's end start another.
        self._more_waiting = False
        self._contended = False
        # Each shard's oldest rows through the partial index, in order, however long the backlog.
        self._oldest_rows = text(
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
        ).columns(*self._columns)

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Relays until `stop()`; survives broker and database outages."""
        backoff = 0.2
        last_cleanup = 0.0
        loop = asyncio.get_running_loop()
        self.outbox.subscribe(self._wake.set)
        try:
            while not self._stopping.is_set():
                try:
                    await self._ensure_producer()
                    if loop.time() - last_cleanup > 60:
                        last_cleanup = loop.time()
                        await self._cleanup()
                    self._maybe_vacuum()
                    await self._next_pass()
                    backoff = 0.2
                except _RELAY_ERRORS as exc:
                    await self._after_failure(exc, backoff)
                    backoff = min(backoff * 2, 5.0)
                except Exception as exc:  # a database error we did not foresee: keep going
                    if self._stopping.is_set():
                        break
                    await self._after_failure(exc, backoff)
                    backoff = min(backoff * 2, 5.0)
        finally:
            self.outbox.unsubscribe(self._wake.set)
            # Never abandon a pass between its sends and its UPDATE: let it mark what it sent.
            if self._passes:
                await asyncio.wait(self._passes)
                self._harvest()
            await self._close()

    def stop(self) -> None:
        """Asks the relay to stop between batches: passes in flight finish, none start."""
        self._stopping.set()
        self._wake.set()

    async def _next_pass(self) -> None:
        """Starts a pass, then waits for a reason to start another: a wake, a full batch, a poll.

        A pass that failed surfaces here, once the passes still in flight have finished (they
        share the producer that is about to be replaced).
        """
        self._wake.clear()
        task = asyncio.create_task(self.relay_once(), name=f"{self.service}-outbox-pass")
        self._passes.add(task)
        task.add_done_callback(self._pass_done)
        while not self._stopping.is_set():
            failed = self._harvest()
            if failed is not None:
                if self._passes:
                    await asyncio.wait(self._passes)
                    self._harvest()
                raise failed
            if not self._passes:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
                return
            if len(self._passes) >= self.concurrent_passes:
                await asyncio.wait(self._passes, return_when=asyncio.FIRST_COMPLETED)
                continue
            woken = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({woken, *self._passes}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                woken.cancel()
            if self._wake.is_set():
                return

    def _pass_done(self, task: asyncio.Task[int]) -> None:
        """Starts another pass if rows may have been left behind.

        Not after every pass that sent rows: an empty pass after each was five round trips and
        half the relay's CPU at a steady rate. Rows committed in this process wake the relay
        themselves; what no wake covers is a full shard, and a shard a
        pass found held by another, which is looked at again once no pass holds anything.
        """
        if task.cancelled() or task.exception() is not None:
            return
        if self._more_waiting:
            self._more_waiting = False
            self._wake.set()
        elif self._contended and not any(t is not task and not t.done() for t in self._passes):
            # The holder may be another relay's pass: look again shortly, not in a tight loop.
            self._contended = False
            asyncio.get_running_loop().call_later(CONTENDED_RETRY, self._wake.set)

    def _harvest(self) -> BaseException | None:
        """Forgets the passes that have ended; returns the failure of one that failed."""
        failure: BaseException | None = None
        for task in [t for t in self._passes if t.done()]:
            self._passes.discard(task)
            if task.cancelled():
                failure = failure or RuntimeError("an outbox pass was cancelled")
            elif task.exception() is not None:
                failure = failure or task.exception()
        return failure

    # -- one pass ------------------------------------------------------------------------------

    async def relay_once(self) -> int:
        """Publishes the waiting rows of the shards it can lock, up to a batch; returns how many."""
        producer = await self._ensure_producer()
        async with self.session_factory() as session, session.begin():
            if self.is_postgres:
                rows = await self._take_postgres(session)
            else:
                rows = await self._take_sqlite(session)
            if not rows:
                return 0
            # Every row goes to the producer before any acknowledgement is awaited: one linger
            # and one round trip per pass, not per shard.
            futures = await self._send(producer, rows)
            # Within the 20 s a stopping service gives its workers (ServiceRuntime.stop), so a pass
            # is never cancelled between its sends and its UPDATE: it marks them or rolls back.
            await asyncio.wait_for(asyncio.gather(*futures), timeout=15)
            now = datetime.now(UTC)
            ids = [row.id for row in rows]
            if self.is_postgres:
                sent = self.table.c.id == any_(bindparam("ids", ids, type_=ARRAY(BigInteger)))
            else:
                sent = self.table.c.id.in_(ids)
            await session.execute(update(self.table).where(sent).values(published_at=now))
        self.broker_available = True
        self._published_since_vacuum += len(rows)
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        lag = OUTBOX_LAG.labels(self.service)
        for row in rows:
            lag.observe((now - row.created_at).total_seconds())
        return len(rows)

    async def _send(self, producer: AIOKafkaProducer, rows: Sequence[Row[Any]]) -> list[Any]:
        """Hands the rows to the producer as whole batches, one partition's rows in id order.

        Built with aiokafka's batch API rather than a `send()` per row, which costs ~40 µs of
        Python each (a future, a partitioner call, an accumulator lookup) and held the relay
        to a third of what the producer can do. The partition is the one `send()` would choose
        (`partition_for`), so a key stays on its partition whoever sent it; a
        partition's batches go out one at a time in the order given, which keeps a key's order.
        """
        futures = []
        building: dict[tuple[str, int], Any] = {}
        partitions: dict[str, list[int]] = {}
        for row in rows:
            topic = row.topic
            if topic not in partitions:
                partitions[topic] = list(await producer.partitions_for(topic))
            key = row.key.encode()
            partition = partition_for(key, partitions[topic])
            batch = building.get((topic, partition))
            if batch is None:
                batch = building[topic, partition] = producer.create_batch()
            if batch.append(key=key, value=row.payload, timestamp=None) is None:
                batch.close()
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = building[topic, partition] = producer.create_batch()
                if batch.append(key=key, value=row.payload, timestamp=None) is None:
                    raise ValueError(f"outbox row {row.id} is larger than a producer batch")
        for (topic, partition), batch in building.items():
            batch.close()
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        return futures

    async def _take_postgres(self, session: AsyncSession) -> Sequence[Row[Any]]:
        """Locks every waiting shard no other pass holds and reads the oldest rows of each.

        A backlog is then drained by one pass at a time holding every shard, which measured
        faster than passes splitting the shards (their batches interleave on the partitions);
        a row committed during a pass goes out at once in a pass of its own unless its shard
        is held. Within a shard the rows taken are always its oldest waiting ones, in id order,
        which is all that per-key order needs.
        """
        waiting = (
            await session.execute(
                self._lock_shards, {"last": self.outbox.shards - 1, "ns": self._lock_namespace}
            )
        ).all()
        shards = [row.shard for row in waiting if row.locked]
        if len(shards) < len(waiting):
            self._contended = True
        if not shards:
            if not waiting:
                OUTBOX_BACKLOG.labels(self.service).set(0)
            return []
        per_shard = -(-self.batch_size // len(shards))
        result = await session.execute(
            self._oldest_rows, {"shards": shards, "per_shard": per_shard}
        )
        rows = result.all()
        if len(rows) >= per_shard:  # a shard may have given all it was allowed
            self._more_waiting = True
        return rows

    async def _take_sqlite(self, session: AsyncSession) -> Sequence[Row[Any]]:
        """The oldest waiting rows: SQLite runs one pass at a time, so no locks are needed."""
        result = await session.execute(
            select(*self._columns)
            .where(self.table.c.published_at.is_(None))
            .order_by(self.table.c.id)
            .limit(self.batch_size)
        )
        rows = result.all()
        if not rows:
            OUTBOX_BACKLOG.labels(self.service).set(0)
        if len(rows) >= self.batch_size:
            self._more_waiting = True
        return rows

    # -- helpers -------------------------------------------------------------------------------

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = create_producer(
                self.bootstrap_servers, client_id=f"{self.service}-outbox-relay"
            )
            try:
                await producer.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _after_failure(self, exc: BaseException, backoff: float) -> None:
        self.broker_available = False
        OUTBOX_FAILURES.labels(self.service).inc()
        log.warning("outbox relay failed; will retry", error=type(exc).__name__, detail=str(exc))
        # A producer that failed may hold stale metadata for a restarted broker: start afresh.
        if self._producer is not None:
            producer, self._producer = self._producer, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), timeout=5)
        # The backlog matters most while the broker is away: count it if the database answers.
        with contextlib.suppress(Exception):
            async with self.session_factory() as session:
                await asyncio.wait_for(self._update_backlog(session), timeout=5)
        await self._sleep(backoff)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _update_backlog(self, session: AsyncSession) -> None:
        backlog = await session.scalar(
            select(func.count()).select_from(self.table).where(self.table.c.published_at.is_(None))
        )
        OUTBOX_BACKLOG.labels(self.service).set(backlog or 0)

    async def _cleanup(self) -> None:
        cutoff = datetime.now(UTC) - self.retention
        async with self.session_factory() as session, session.begin():
            await session.execute(delete(self.table).where(self.table.c.published_at < cutoff))

    def _maybe_vacuum(self) -> None:
        """Vacuums the outbox in the background once this relay has marked enough rows.

        Each row marked published leaves a dead entry in the partial index of waiting rows
        until a vacuum, and every pass's per-shard probes step over them (EXPLAIN: 60,000 of
        them cost a pass 150-200 ms, 0.1 ms after VACUUM). Autovacuum waits for a fifth of the
        table by default, a day of rows here; this keeps the index to the rows that wait.
        """
        if not self.is_postgres or self._published_since_vacuum < self.vacuum_after:
            return
        if self._vacuum is not None and not self._vacuum.done():
            return
        self._published_since_vacuum = 0
        self._vacuum = asyncio.create_task(self._vacuum_outbox(), name="outbox-vacuum")

    async def _vacuum_outbox(self) -> None:
        try:
            async with self.engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                # SKIP_LOCKED: another relay's vacuum of the same table is as good as ours.
                await autocommit.exec_driver_sql(f"VACUUM (SKIP_LOCKED) {self._table_sql}")
        except Exception as exc:  # autovacuum will get there; the relay carries on
            log.warning("outbox vacuum failed", error=type(exc).__name__, detail=str(exc))

    async def _close(self) -> None:
        if self._vacuum is not None and not self._vacuum.done():
            self._vacuum.cancel()
            await asyncio.wait({self._vacuum}, timeout=5)
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._producer.stop(), timeout=10)


def partition_for(key: bytes, partitions: list[int]) -> int:
    """The partition `AIOKafkaProducer.send()` (and Java's producer) picks for `key`.

    aiokafka's `murmur2` reads a byte at a time and cost the relay ~20 µs a row, half its CPU
    on a backlog; this is the same hash a 32-bit word at a time. `partitions` in the order
    `AIOKafkaProducer.partitions_for` gives them, as aiokafka's default partitioner takes them.
    """
    m = 0x5BD1E995
    length = len(key)
    h = 0x9747B28C ^ length
    for k in struct.unpack_from(f"<{length // 4}I", key):
        k = (k * m) & 0xFFFFFFFF
        k = ((k ^ (k >> 24)) * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    tail, base = length & 3, length & ~3
    if tail == 3:
        h ^= key[base + 2] << 16
    if tail >= 2:
        h ^= key[base + 1] << 8
    if tail >= 1:
        h = ((h ^ key[base]) * m) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * m) & 0xFFFFFFFF
    h ^= h >> 15
    return partitions[(h & 0x7FFFFFFF) % len(partitions)]
