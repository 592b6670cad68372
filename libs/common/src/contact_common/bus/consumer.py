"""The consumer loop: decode, hand a batch to the service, then commit the offsets.

Offsets are committed only after the handler's database transaction has committed, so a crash
in between redelivers the batch and the inbox makes the redelivery change nothing. What cannot
be decoded goes to the dead-letter topic with the reason and the partition carries on.

An event a newer producer wrote is not undecodable: during a rolling upgrade producers may run
ahead of consumers. An event type this build does not know is counted, logged once and
committed past; an event carrying a vocabulary value it does not know (a new channel) is
counted, logged once and handed to the handler with that value as an unrecognised member, for
the service to use what it can (`read_record`).

With a tracer, each event is handled under a span that continues its producer's trace (the
`traceparent` extension it carries; contact_common.tracing).

A member that has not settled in its group for `rejoin_stall_seconds` is started afresh. The soak
found aiokafka's group coordinator stuck after a connection reset in the middle of a group join
(SyncGroup): no exception reaches the caller, `getmany` returns nothing for ever, and the
partitions it would own are read by nobody. "Settled" means a known coordinator and a completed
join with no rejoin pending; an idle member of a group with more members than partitions is
settled (its assignment is empty, not missing), so it is never restarted for that.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.errors import IllegalStateError, KafkaError
from opentelemetry.trace import Tracer
from prometheus_client import Counter, Gauge

from contact_common.bus.binding import CONTENT_TYPE, STRUCTURED_CONTENT_TYPE, Message, from_message
from contact_common.bus.kafka import create_producer
from contact_common.bus.topics import dead_letter_topic
from contact_common.events import CloudEvent, EventDecodeError
from contact_common.logs import get_logger
from contact_common.tracing import consuming

log = get_logger(__name__)

EVENTS_CONSUMED = Counter(
    "events_consumed_total", "Events handled by a consumer", ["group", "topic", "type"]
)
EVENTS_DEAD_LETTERED = Counter(
    "events_dead_lettered_total", "Messages sent to a dead-letter topic", ["group", "topic"]
)
CONSUMER_LAG = Gauge(
    "consumer_lag", "Messages behind the end of the partition", ["group", "topic", "partition"]
)
EVENTS_UNKNOWN = Counter(
    "events_unknown_total",
    "Events of a newer producer: a type (skipped) or vocabulary value (kept) this build lacks",
    ["consumer", "type", "reason"],
)

# Longer than a normal rebalance (a session timeout, 10 s, and a join round), shorter than the
# minutes for which a stuck member's partitions would otherwise go unread.
DEFAULT_REJOIN_STALL_SECONDS = 60.0


class ConsumerStalled(KafkaError):  # type: ignore[misc]  # aiokafka has no types
    """The member did not settle in its group in time; `run` starts it afresh."""


def settled_in_group(consumer: AIOKafkaConsumer) -> bool:
    """Whether the consumer knows its coordinator and holds a completed assignment.

    aiokafka has no public view of this; these are its group coordinator's own fields
    (aiokafka 0.14, `GroupCoordinator.need_rejoin`). If a later release renames them, the
    member counts as settled, so the check can only ever fail to restart, never restart wrongly.
    """
    coordinator = getattr(consumer, "_coordinator", None)
    state = getattr(consumer, "_subscription", None)
    subscription = getattr(state, "subscription", None)
    if coordinator is None or subscription is None:
        return True
    try:
        rejoin_needed = coordinator._rejoin_needed_fut.done()
        return (
            coordinator.coordinator_id is not None
            and subscription.assignment is not None
            and not rejoin_needed
        )
    except AttributeError:
        return True


_TYPE_LABEL = re.compile(r"^[a-z][a-z0-9_]{0,31}(\.[a-z0-9_]{1,32}){1,3}$")
_KINDS_REMEMBERED = 1000


class UnknownEvents:
    """Counts a consumer's events of a newer producer and logs each kind of them once."""

    def __init__(self, consumer: str) -> None:
        self.consumer = consumer
        self._logged: set[tuple[str, str]] = set()

    def note(self, record: Message, error: EventDecodeError) -> None:
        """Counts one; the first of its kind (type and reason) is logged at warning."""
        event_type = error.event_type or ""
        # A type shaped as ours is a label; anything else one label, lest labels pile up.
        label = event_type if _TYPE_LABEL.fullmatch(event_type) else "other"
        EVENTS_UNKNOWN.labels(self.consumer, label, error.kind).inc()
        kind = (label, error.reason if error.kind == "unknown_value" else error.kind)
        if kind in self._logged or len(self._logged) >= _KINDS_REMEMBERED:
            return
        self._logged.add(kind)
        log.warning(
            "event of a newer producer; upgrade this consumer"
            if error.kind == "unknown_value"
            else "event type unknown to this build, skipped; upgrade this consumer",
            consumer=self.consumer,
            type=label,
            reason=error.reason[:500],
            topic=getattr(record, "topic", None),
        )


def read_record(record: Message, unknown: UnknownEvents) -> CloudEvent | None:
    """The event of a record; None for an event type this build does not know (counted).

    Raises EventDecodeError for what is no event at all: that goes to the dead letters.
    """
    try:
        return from_message(record)
    except EventDecodeError as exc:
        if not exc.newer_producer:
            raise
        unknown.note(record, exc)
        if exc.kind == "unknown_type":
            return None
    return from_message(record, keep_unknown_values=True)


@dataclass(frozen=True, slots=True)
class ConsumedEvent:
    """An event with where it came from: the partition decides which instance owns its clocks."""

    event: CloudEvent
    topic: str
    partition: int
    offset: int


# How long the broker may hold a fetch open waiting for new records. aiokafka's default (500 ms)
# is a delay under every event on a quiet topic (on tansu, ~130 ms p50 and ~260 ms p99 from send to
# consumer, beyond the 100 ms latency goal before any service adds its own). 50 ms keeps that to a
# few tens of ms; the cost is more empty fetches while idle (~20/s per consumer instead of ~2):
# the relay benchmark measures it, ~3% of a core of the bundled broker per idle consumer against
# ~1% at 500 ms (BENCHMARKS.md, diagnostics of benchmark 3).
DEFAULT_FETCH_MAX_WAIT_MS = 50

BatchHandler = Callable[[Sequence[ConsumedEvent]], Awaitable[None]]
PartitionsCallback = Callable[[set[TopicPartition]], Awaitable[None]]


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka has no types
    def __init__(self, owner: EventConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if self.owner.on_revoked is not None:
            await self.owner.on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        if self.owner.on_assigned is not None:
            await self.owner.on_assigned(set(assigned))


class EventConsumer:
    """Consumes topics as one member of a consumer group and hands batches to a handler."""

    def __init__(
        self,
        *,
        group_id: str,
        topics: Sequence[str],
        bootstrap_servers: str,
        handler: BatchHandler,
        client_id: str | None = None,
        max_records: int = 1000,
        on_assigned: PartitionsCallback | None = None,
        on_revoked: PartitionsCallback | None = None,
        auto_offset_reset: str = "earliest",
        fetch_max_wait_ms: int = DEFAULT_FETCH_MAX_WAIT_MS,
        tracer: Tracer | None = None,
        rejoin_stall_seconds: float = DEFAULT_REJOIN_STALL_SECONDS,
        linger_ms: int = 0,
    ) -> None:
        self.group_id = group_id
        self.topics = tuple(topics)
        self.bootstrap_servers = bootstrap_servers
        self.handler = handler
        self.client_id = client_id or group_id
        self.max_records = max_records
        self.on_assigned = on_assigned
        self.on_revoked = on_revoked
        self.auto_offset_reset = auto_offset_reset
        self.fetch_max_wait_ms = fetch_max_wait_ms
        # The service's tracer (ServiceRuntime.tracing): a span per event, none when None.
        self.tracer = tracer
        self.rejoin_stall_seconds = rejoin_stall_seconds
        # After a batch smaller than max_records, wait this long for more before handling it:
        # fewer, larger transactions (each costs a round of SQL and an offset commit) at the
        # price of this much latency.
        self.linger_ms = linger_ms
        self._unsettled_since: float | None = None
        self._stopping = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._dead_letters: AIOKafkaProducer | None = None
        self._positions: dict[TopicPartition, int] = {}
        self._in_hand: set[TopicPartition] = set()
        self._unknown = UnknownEvents(group_id)
        self.running = False

    async def run(self) -> None:
        """Consumes until `stop()`; reconnects after broker outages."""
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                await self._start()
                backoff = 0.5
                await self._consume()
            except (KafkaError, OSError, TimeoutError) as exc:
                log.warning(
                    "consumer lost the broker; will retry",
                    group=self.group_id,
                    error=type(exc).__name__,
                    detail=str(exc),
                )
                await self._close()
                await self._sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        await self._close()

    def stop(self) -> None:
        """Asks the consumer to stop after the batch in hand (its offsets are committed first)."""
        self._stopping.set()

    async def lag(self, tp: TopicPartition) -> int | None:
        """Messages of `tp` not yet handled, as of the last fetch; None while that is unknown.

        0 means every message the broker had for the partition at the last fetch has been
        handled and committed: a timer may trust that no event of it is waiting unread.
        """
        consumer = self._consumer
        if consumer is None or tp not in consumer.assignment():
            return None
        if tp in self._in_hand:
            return None  # fetched, not yet handled
        highwater: int | None = consumer.highwater(tp)
        if highwater is None:
            return None
        try:
            position: int = await asyncio.wait_for(consumer.position(tp), timeout=1.0)
        except (IllegalStateError, TimeoutError):
            return None
        if tp in self._in_hand:
            return None
        return max(highwater - position, 0)

    async def _start(self) -> None:
        if self._consumer is not None:
            return
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            client_id=self.client_id,
            enable_auto_commit=False,
            auto_offset_reset=self.auto_offset_reset,
            max_poll_records=self.max_records,
            fetch_max_wait_ms=self.fetch_max_wait_ms,
        )
        consumer.subscribe(list(self.topics), listener=_Rebalance(self))
        try:
            await consumer.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await consumer.stop()
            raise
        self._consumer = consumer
        self.running = True

    async def _consume(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        self._unsettled_since = None
        while not self._stopping.is_set():
            self._check_settled(consumer)
            batches = await self._next_batches(consumer)
            self._in_hand = set(batches)
            for tp, records in batches.items():
                try:
                    await self._handle_partition(consumer, tp, records)
                finally:
                    self._in_hand.discard(tp)
            if batches:
                self._record_lag(consumer)

    async def _next_batches(
        self, consumer: AIOKafkaConsumer
    ) -> dict[TopicPartition, list[ConsumerRecord]]:
        """The next records by partition; after a small batch, whatever else comes within
        `linger_ms` too (aiokafka fetches a partition again only once its last records are
        taken, so this takes them as they come until the linger or the batch is full)."""
        batches: dict[TopicPartition, list[ConsumerRecord]] = await consumer.getmany(
            timeout_ms=200, max_records=self.max_records
        )
        count = sum(len(records) for records in batches.values())
        deadline = time.monotonic() + self.linger_ms / 1000
        while batches and count < self.max_records and (left := deadline - time.monotonic()) > 0:
            more = await consumer.getmany(
                timeout_ms=max(1, int(left * 1000)), max_records=self.max_records - count
            )
            for tp, records in more.items():
                batches.setdefault(tp, []).extend(records)  # later offsets of the partition
                count += len(records)
        return batches

    def _check_settled(self, consumer: AIOKafkaConsumer) -> None:
        """Raises ConsumerStalled once the member has been unsettled for too long."""
        if settled_in_group(consumer):
            self._unsettled_since = None
            return
        now = time.monotonic()
        if self._unsettled_since is None:
            self._unsettled_since = now
        elif now - self._unsettled_since > self.rejoin_stall_seconds:
            raise ConsumerStalled(
                f"not settled in group {self.group_id} for {self.rejoin_stall_seconds:.0f} s"
            )

    async def _handle_partition(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord]
    ) -> None:
        decoded: list[ConsumedEvent] = []
        seen: set[UUID] = set()
        for record in records:
            try:
                event = read_record(record, self._unknown)
            except EventDecodeError as exc:
                await self._dead_letter(record, exc.reason)
                continue
            if event is None:
                continue
            if event.id in seen:  # a republished copy in the same batch: the inbox sees it once
                continue
            seen.add(event.id)
            decoded.append(ConsumedEvent(event, record.topic, record.partition, record.offset))
        if decoded:
            try:
                with consuming(self.tracer, group=self.group_id, topic=tp.topic, items=decoded):
                    await self.handler(decoded)
            except Exception:
                # The handler's transaction rolled back: read the batch again after a pause,
                # rather than skip it (the database may be restarting).
                log.exception(
                    "handler failed; the batch will be retried",
                    group=self.group_id,
                    topic=tp.topic,
                    partition=tp.partition,
                )
                consumer.seek(tp, records[0].offset)
                await self._sleep(1.0)
                return
            for item in decoded:
                EVENTS_CONSUMED.labels(self.group_id, item.topic, item.event.type).inc()
        await consumer.commit({tp: records[-1].offset + 1})
        self._positions[tp] = records[-1].offset + 1

    async def _dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        if self._dead_letters is None:
            producer = create_producer(self.bootstrap_servers, client_id=f"{self.client_id}-dlq")
            await producer.start()
            self._dead_letters = producer
        # The record's own headers go with it, so a binary-mode message stays readable; one
        # without a content-type is the platform's structured JSON from before the binding.
        headers = [(name, value) for name, value in record.headers or () if name[:4] != "dlq."]
        if not any(name.lower() == CONTENT_TYPE for name, _ in headers):
            headers.append((CONTENT_TYPE, STRUCTURED_CONTENT_TYPE.encode()))
        headers += [
            ("dlq.reason", reason.encode()),
            ("dlq.topic", record.topic.encode()),
            ("dlq.partition", str(record.partition).encode()),
            ("dlq.offset", str(record.offset).encode()),
            ("dlq.group", self.group_id.encode()),
        ]
        await self._dead_letters.send_and_wait(
            dead_letter_topic(record.topic), value=record.value, key=record.key, headers=headers
        )
        EVENTS_DEAD_LETTERED.labels(self.group_id, record.topic).inc()
        log.warning(
            "message dead-lettered",
            group=self.group_id,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason[:500],
        )

    def _record_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            position = self._positions.get(tp)
            if highwater is None or position is None:
                continue
            CONSUMER_LAG.labels(self.group_id, tp.topic, tp.partition).set(
                max(highwater - position, 0)
            )

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _close(self) -> None:
        self.running = False
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), timeout=10)
        producer, self._dead_letters = self._dead_letters, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), timeout=10)
