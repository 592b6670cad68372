"""The relay's loop: when passes run, what they do, and what the relay reports.

A pass claims rows from the store, hands them to the sender, marks them sent and commits. A
relay runs a few passes at once (each on shards the others do not hold), so a row committed
during a pass goes out at once unless its shard is in that pass. It wakes on a commit in its
own process (every process that writes an outbox runs a relay: `Outbox.add` wakes it) or on a
poll, which finds rows that other processes wrote; while the broker is down it backs off and
the rows wait. `stop()` lets the passes in flight finish (sent rows are marked) and starts none.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from contact_common.bus.relay.schedule import (
    FIRST_BACKOFF,
    Leftovers,
    cleanup_due,
    next_backoff,
    next_pass_after,
    vacuum_due,
)
from contact_common.bus.relay.sender import OutboxSender
from contact_common.bus.relay.store import OutboxStore
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

_RELAY_ERRORS = (KafkaError, OSError, TimeoutError, asyncpg.PostgresError)


class OutboxRelay:
    """Moves a service's outbox to Kafka: its store's rows through its sender, pass by pass."""

    def __init__(
        self,
        *,
        service: str,
        outbox: Outbox,
        engine: AsyncEngine,
        bootstrap_servers: str,
        batch_size: int = 2000,
        poll_interval: float = 1.0,
        retention: timedelta = timedelta(days=1),
        concurrent_passes: int = 3,
        vacuum_after: int = 5000,
    ) -> None:
        self.service = service
        self.outbox = outbox
        self.store = OutboxStore(outbox, engine, batch_size=batch_size)
        self.sender = OutboxSender(bootstrap_servers, client_id=f"{service}-outbox-relay")
        self.poll_interval = poll_interval
        self.retention = retention
        # Without advisory locks (SQLite) two passes would send the same rows: one at a time.
        self.concurrent_passes = concurrent_passes if self.store.postgresql else 1
        self.vacuum_after = vacuum_after
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._passes: set[asyncio.Task[int]] = set()
        self._leftovers = Leftovers()
        self._cleaned_at: float | None = None
        self._marked_since_vacuum = 0
        self._vacuum: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Relays until `stop()`; survives broker and database outages."""
        self.outbox.subscribe(self._wake.set)
        try:
            await self._relay_until_stopped()
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

    async def _relay_until_stopped(self) -> None:
        """Runs pass after pass, backing off after each failure, until `stop()`."""
        backoff = FIRST_BACKOFF
        while not self._stopping.is_set():
            try:
                await self.sender.connect()
                await self._housekeeping()
                await self._next_pass()
                backoff = FIRST_BACKOFF
            except Exception as exc:
                # A database error we did not foresee, while stopping: nothing to retry for.
                if self._stopping.is_set() and not isinstance(exc, _RELAY_ERRORS):
                    break
                await self._after_failure(exc, backoff)
                backoff = next_backoff(backoff)

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
        """Starts another pass if rows may have been left behind (`next_pass_after`)."""
        if task.cancelled() or task.exception() is not None:
            return
        others_running = any(t is not task and not t.done() for t in self._passes)
        delay, self._leftovers = next_pass_after(self._leftovers, others_running=others_running)
        if delay == 0:
            self._wake.set()
        elif delay is not None:
            asyncio.get_running_loop().call_later(delay, self._wake.set)

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
        """Publishes the oldest waiting rows it can claim, up to a batch; returns how many."""
        # Connected before the claim: a broker that is away holds no transaction or lock open.
        await self.sender.connect()
        async with self.store.claim() as claim:
            self._leftovers = self._leftovers.noting(full=claim.full, contended=claim.contended)
            if claim.nothing_waiting:
                OUTBOX_BACKLOG.labels(self.service).set(0)
            if not claim.rows:
                return 0
            await self.sender.publish(claim.rows)
            sent_at = datetime.now(UTC)
            await self.store.mark_sent(claim, at=sent_at)
        self._published(claim.rows, sent_at)
        return len(claim.rows)

    def _published(self, rows: Sequence[Row[*tuple[Any, ...]]], sent_at: datetime) -> None:
        """Counts rows marked sent, and how long each waited from its commit."""
        self._marked_since_vacuum += len(rows)
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        lag = OUTBOX_LAG.labels(self.service)
        for row in rows:
            lag.observe((sent_at - row.created_at).total_seconds())

    # -- between passes ------------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        """Deletes long-published rows now and then; vacuums in the background when due."""
        now = asyncio.get_running_loop().time()
        if cleanup_due(now, self._cleaned_at):
            self._cleaned_at = now
            await self.store.delete_published_before(datetime.now(UTC) - self.retention)
        vacuuming = self._vacuum is not None and not self._vacuum.done()
        if self.store.postgresql and vacuum_due(
            self._marked_since_vacuum, vacuum_after=self.vacuum_after, vacuuming=vacuuming
        ):
            self._marked_since_vacuum = 0
            self._vacuum = asyncio.create_task(self._vacuum_outbox(), name="outbox-vacuum")

    async def _vacuum_outbox(self) -> None:
        try:
            await self.store.vacuum()
        except Exception as exc:  # autovacuum will get there; the relay carries on
            log.warning("outbox vacuum failed", error=type(exc).__name__, detail=str(exc))

    async def _after_failure(self, exc: BaseException, backoff: float) -> None:
        OUTBOX_FAILURES.labels(self.service).inc()
        log.warning("outbox relay failed; will retry", error=type(exc).__name__, detail=str(exc))
        await self.sender.reset()
        # The backlog matters most while the broker is away: count it if the database answers.
        with contextlib.suppress(Exception):
            backlog = await asyncio.wait_for(self.store.backlog(), timeout=5)
            OUTBOX_BACKLOG.labels(self.service).set(backlog)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=backoff)

    async def _close(self) -> None:
        if self._vacuum is not None and not self._vacuum.done():
            self._vacuum.cancel()
            await asyncio.wait({self._vacuum}, timeout=5)
        await self.sender.close()
