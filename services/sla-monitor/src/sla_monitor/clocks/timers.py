"""Timers on the wall clock: a deadline that passes with no stop is flagged within a second.

Each instance keeps in memory only the moments due within a short horizon, for the partitions
it owns; the rest stay in the database, found by index when they come near. So memory follows
the clocks about to fall due, not the clocks open. A breach is flagged by a conditional update
(still running, past its deadline) with its sla.breached in the same transaction, so two
instances, a restart or a rebalance can never flag it twice.

A timer only trusts a partition once the consumer has read it to the end: an answered call
still waiting in the backlog (after a restart, say) must stop its clock before it is judged.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID

from aiokafka import TopicPartition
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_common.bus.topics import CONTACT_EVENTS
from contact_common.db import transaction
from contact_common.logs import get_logger
from sla_monitor.clocks import repository, service
from sla_monitor.clocks.domain import SlaClock, Status
from sla_monitor.timekeeping import Clock

log = get_logger(__name__)

Kind = Literal["breach", "at_risk"]

BREACHES_FLAGGED = Counter("sla_breaches_flagged_total", "Breaches flagged by a timer")
AT_RISK_FLAGGED = Counter("sla_at_risk_flagged_total", "At-risk moments announced by a timer")
FLAG_DELAY = Histogram(
    "sla_breach_flag_delay_seconds",
    "From a clock's deadline to its breach being flagged by a timer",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600),
)
TIMERS_IN_MEMORY = Gauge("sla_timers_in_memory", "Timer moments held in memory")
PARTITIONS_OWNED = Gauge("sla_partitions_owned", "contact.events partitions this instance owns")

# A clock busy in the consumer's transaction, or a partition not yet read to its end, is tried
# again this soon (real time, whatever the service's clock says).
_RETRY_SECONDS = 0.05


async def _always(_partition: int) -> bool:
    return True


@dataclass(order=True, frozen=True, slots=True)
class _Moment:
    at: datetime
    order: int
    kind: Kind
    clock_id: UUID
    partition: int


class ClockTimers:
    """Flags at-risk moments and breaches of the owned partitions' clocks as they fall due."""

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock,
        horizon: timedelta = timedelta(seconds=30),
        refresh: timedelta = timedelta(seconds=5),
        batch_size: int = 5000,
        caught_up: Callable[[int], Awaitable[bool]] | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self.horizon = horizon
        self.refresh = refresh
        self.batch_size = batch_size
        self.caught_up = caught_up or _always
        self.owned: set[int] = set()
        self._heap: list[_Moment] = []
        self._queued: set[tuple[UUID, Kind, datetime]] = set()
        self._retry: list[_Moment] = []
        self._order = itertools.count()
        self._next_refresh: datetime | None = None
        self._last_waiting_log = datetime.min.replace(tzinfo=UTC)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

    # -- ownership (the consumer's rebalance callbacks) --------------------------------------------

    async def on_assigned(self, assigned: set[TopicPartition]) -> None:
        """Takes on the clocks of newly owned partitions; their overdue clocks are flagged now."""
        partitions = {tp.partition for tp in assigned if tp.topic == CONTACT_EVENTS}
        self.owned |= partitions
        PARTITIONS_OWNED.set(len(self.owned))
        log.info("partitions assigned", partitions=sorted(partitions), owned=sorted(self.owned))
        self._next_refresh = None
        self._wake.set()

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Forgets the timers of partitions another instance now owns."""
        partitions = {tp.partition for tp in revoked if tp.topic == CONTACT_EVENTS}
        self.owned -= partitions
        PARTITIONS_OWNED.set(len(self.owned))
        log.info("partitions revoked", partitions=sorted(partitions), owned=sorted(self.owned))
        self._heap = [m for m in self._heap if m.partition in self.owned]
        heapq.heapify(self._heap)
        self._retry = [m for m in self._retry if m.partition in self.owned]
        self._queued = {(m.clock_id, m.kind, m.at) for m in self._heap}
        TIMERS_IN_MEMORY.set(len(self._heap))

    # -- the consumer's clocks ---------------------------------------------------------------------

    def track(self, clocks: Iterable[SlaClock]) -> None:
        """Takes clocks just started or changed (after commit): those due soon go in memory."""
        until = self.clock.now() + self.horizon
        pushed = False
        for item in clocks:
            if item.status is not Status.pending or item.partition not in self.owned:
                continue
            if not item.at_risk_published and item.at_risk_at <= until:
                pushed = self._push(item.at_risk_at, "at_risk", item.id, item.partition) or pushed
            if item.due_at <= until:
                pushed = self._push(item.due_at, "breach", item.id, item.partition) or pushed
        if pushed:
            self._wake.set()

    def _push(self, at: datetime, kind: Kind, clock_id: UUID, partition: int) -> bool:
        key = (clock_id, kind, at)
        if key in self._queued:
            return False
        self._queued.add(key)
        heapq.heappush(self._heap, _Moment(at, next(self._order), kind, clock_id, partition))
        TIMERS_IN_MEMORY.set(len(self._heap))
        return True

    # -- the loop ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Fires moments as they fall due until `stop()`; survives database outages."""
        while not self._stopping.is_set():
            try:
                now = self.clock.now()
                if self._next_refresh is None or now >= self._next_refresh:
                    await self._reload(now)
                await self._fire_due(self.clock.now())
            except Exception as exc:
                if self._stopping.is_set():
                    break
                log.warning("timers failed; will retry", error=type(exc).__name__, detail=str(exc))
                self._next_refresh = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=1.0)
                continue
            await self._sleep()

    def stop(self) -> None:
        """Asks the loop to stop."""
        self._stopping.set()
        self._wake.set()

    async def _reload(self, now: datetime) -> None:
        """Loads the owned partitions' moments within the horizon from the database."""
        partitions = sorted(self.owned)
        until = now + self.horizon
        async with self.session_factory() as session:
            deadlines = await repository.deadlines_until(
                session, partitions=partitions, until=until, limit=self.batch_size
            )
            at_risk = await repository.at_risk_until(
                session, partitions=partitions, until=until, limit=self.batch_size
            )
        log.debug(
            "timers reloaded",
            partitions=partitions,
            deadlines=len(deadlines),
            at_risk=len(at_risk),
            in_memory=len(self._heap),
        )
        for moment in deadlines:
            self._push(moment.at, "breach", moment.clock_id, moment.partition)
        for moment in at_risk:
            self._push(moment.at, "at_risk", moment.clock_id, moment.partition)
        next_refresh = now + self.refresh
        # A full batch means more may be waiting beyond its last moment: look again when that
        # moment is reached (at once if they were all overdue).
        for loaded in (deadlines, at_risk):
            if len(loaded) >= self.batch_size:
                next_refresh = min(next_refresh, max(loaded[-1].at, now))
        self._next_refresh = next_refresh

    def _take_due(self, now: datetime) -> list[_Moment]:
        due = self._retry
        self._retry = []
        while self._heap and self._heap[0].at <= now:
            moment = heapq.heappop(self._heap)
            self._queued.discard((moment.clock_id, moment.kind, moment.at))
            if moment.partition in self.owned:
                due.append(moment)
        TIMERS_IN_MEMORY.set(len(self._heap))
        return due

    async def _fire_due(self, now: datetime) -> None:
        due = self._take_due(now)
        if not due:
            return
        ready: list[_Moment] = []
        waiting: set[int] = set()
        trusted = {
            partition: await self.caught_up(partition)
            for partition in {m.partition for m in due if m.partition in self.owned}
        }
        for moment in due:
            if moment.partition not in self.owned:
                continue
            if trusted[moment.partition]:
                ready.append(moment)
            else:
                waiting.add(moment.partition)
                self._retry.append(moment)
        if waiting and now - self._last_waiting_log > timedelta(seconds=5):
            self._last_waiting_log = now
            log.info("timers wait for the consumer to read partitions", partitions=sorted(waiting))
        at_risk = {m.clock_id: m for m in ready if m.kind == "at_risk"}
        breach = {m.clock_id: m for m in ready if m.kind == "breach"}
        try:
            if at_risk:
                async with transaction(self.session_factory) as session:
                    flagged = await service.flag_at_risk(session, ids=list(at_risk), now=now)
                AT_RISK_FLAGGED.inc(len(flagged))
                await self._retry_unflagged(at_risk, {c.id for c in flagged}, now, "at_risk")
            if breach:
                async with transaction(self.session_factory) as session:
                    flagged = await service.flag_breaches(session, ids=list(breach), now=now)
                BREACHES_FLAGGED.inc(len(flagged))
                for item in flagged:
                    FLAG_DELAY.observe(max((now - item.due_at).total_seconds(), 0.0))
                await self._retry_unflagged(breach, {c.id for c in flagged}, now, "breach")
        except Exception:
            self._retry.extend(ready)  # keep them: the next pass tries again
            raise

    async def _retry_unflagged(
        self, moments: dict[UUID, _Moment], flagged: set[UUID], now: datetime, kind: Kind
    ) -> None:
        """Moments that flagged nothing: stale (stopped, extended) or busy in the consumer."""
        missed = [clock_id for clock_id in moments if clock_id not in flagged]
        if not missed:
            return
        async with self.session_factory() as session:
            running = await repository.still_running(session, ids=missed)
        for item in running:
            moment = moments[item.id]
            if kind == "breach":
                if item.due_at <= now:
                    self._retry.append(moment)  # the consumer had it locked
                else:
                    self.track([item])  # extended: its new deadline
            elif not item.at_risk_published and item.due_at >= now:
                if item.at_risk_at <= now:
                    self._retry.append(moment)
                else:
                    self.track([item])

    async def _sleep(self) -> None:
        now = self.clock.now()
        target = self._next_refresh or now
        if self._heap and self._heap[0].at < target:
            target = self._heap[0].at
        seconds = (target - now).total_seconds()
        if seconds <= 0:
            if self._retry:
                await asyncio.sleep(_RETRY_SECONDS)
            return
        waiters = [
            asyncio.ensure_future(self._wake.wait()),
            asyncio.ensure_future(self.clock.sleep(seconds)),
        ]
        if self._retry:
            waiters.append(asyncio.ensure_future(asyncio.sleep(_RETRY_SECONDS)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*waiters, return_exceptions=True)
            self._wake.clear()
