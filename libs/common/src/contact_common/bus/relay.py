"""The outbox relay: publishes outbox rows to Kafka in order per key, then marks them sent.

Several relays may run (one per API process). Rows are spread over shards by key; a relay
takes a shard with a transaction-scoped advisory lock, so one key is only ever relayed by one
relay at a time and in id order. It wakes on an in-process commit, on PostgreSQL NOTIFY from
other processes, or on a poll; while the broker is down it backs off and the rows wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.engine import make_url
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
        batch_size: int = 500,
        poll_interval: float = 1.0,
        retention: timedelta = timedelta(days=1),
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
        self._lock_namespace = f"{self.table.schema or 'public'}.{self.table.name}"
        self._producer: AIOKafkaProducer | None = None
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self.broker_available = False

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
                    await self._ensure_listener()
                    published = await self.relay_once()
                    backoff = 0.2
                    if loop.time() - last_cleanup > 60:
                        last_cleanup = loop.time()
                        await self._cleanup()
                    if published == 0:
                        await self._update_backlog()
                        await self._idle()
                except (KafkaError, OSError, TimeoutError, asyncpg.PostgresError) as exc:
                    await self._on_failure(exc)
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                except Exception as exc:  # a database error we did not foresee: keep going
                    if self._stopping.is_set():
                        break
                    await self._on_failure(exc)
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
        finally:
            self.outbox.unsubscribe(self._wake.set)
            await self._close()

    def stop(self) -> None:
        """Asks the relay to stop between batches."""
        self._stopping.set()
        self._wake.set()

    # -- one pass ------------------------------------------------------------------------------

    async def relay_once(self) -> int:
        """Publishes what is waiting, shard by shard; returns how many rows went out."""
        shards = await self._pending_shards()
        random.shuffle(shards)  # relays that start together then take different shards first
        total = 0
        for shard in shards:
            if self._stopping.is_set():
                break
            total += await self._relay_shard(shard)
        return total

    async def _pending_shards(self) -> list[int]:
        async with self.session_factory() as session:
            result = await session.execute(
                select(self.table.c.shard).where(self.table.c.published_at.is_(None)).distinct()
            )
            return list(result.scalars())

    async def _relay_shard(self, shard: int) -> int:
        producer = await self._ensure_producer()
        async with self.session_factory() as session, session.begin():
            if self.is_postgres:
                locked = await session.scalar(
                    text("SELECT pg_try_advisory_xact_lock(hashtext(:ns), :shard)"),
                    {"ns": self._lock_namespace, "shard": shard},
                )
                if not locked:
                    return 0  # another relay has this shard now
            rows = (
                await session.execute(
                    select(
                        self.table.c.id,
                        self.table.c.topic,
                        self.table.c.key,
                        self.table.c.payload,
                        self.table.c.created_at,
                    )
                    .where(self.table.c.shard == shard, self.table.c.published_at.is_(None))
                    .order_by(self.table.c.id)
                    .limit(self.batch_size)
                )
            ).all()
            if not rows:
                return 0
            futures = [
                await producer.send(row.topic, value=row.payload, key=row.key.encode())
                for row in rows
            ]
            await asyncio.wait_for(asyncio.gather(*futures), timeout=30)
            now = datetime.now(UTC)
            await session.execute(
                update(self.table)
                .where(self.table.c.id.in_([row.id for row in rows]))
                .values(published_at=now)
            )
        self.broker_available = True
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        lag = OUTBOX_LAG.labels(self.service)
        for row in rows:
            lag.observe((now - row.created_at).total_seconds())
        return len(rows)

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

    async def _on_failure(self, exc: BaseException) -> None:
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
            await asyncio.wait_for(self._update_backlog(), timeout=5)

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
        self._wake.clear()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _update_backlog(self) -> None:
        async with self.session_factory() as session:
            backlog = await session.scalar(
                select(func.count())
                .select_from(self.table)
                .where(self.table.c.published_at.is_(None))
            )
        OUTBOX_BACKLOG.labels(self.service).set(backlog or 0)

    async def _cleanup(self) -> None:
        cutoff = datetime.now(UTC) - self.retention
        async with self.session_factory() as session, session.begin():
            await session.execute(delete(self.table).where(self.table.c.published_at < cutoff))

    async def _ensure_listener(self) -> None:
        if not self.is_postgres:
            return
        if self._listener is not None and not self._listener.is_closed():
            return
        url = make_url(self.engine.url).set(drivername="postgresql")
        self._listener = await asyncpg.connect(url.render_as_string(hide_password=False))
        await self._listener.add_listener(self.outbox.notify_channel, self._on_notify)

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._producer.stop(), timeout=10)
