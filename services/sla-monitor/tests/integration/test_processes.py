"""The service as real processes: killed with -9 in the middle of a stream of events, and two
instances in one consumer group, one stopped, the other taking over its clocks."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from uuid import UUID, uuid4

from aiokafka import AIOKafkaProducer
from sqlalchemy import select

from contact_common.db import create_engine
from contact_common.events import CloudEvent
from sla_monitor.clocks.domain import clock_id
from sla_monitor.clocks.models import clock as clock_table
from sla_monitor.timekeeping import SystemClock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from upstream_events import Call, london, publish, sla_events_about, wait_until  # noqa: E402

OFFICE_OPEN = london(date(2026, 6, 3), time(10))
S = timedelta(seconds=1)


def breaches_per_clock(events: list[CloudEvent], subjects: set[UUID]) -> dict[UUID, set[UUID]]:
    """Distinct sla.breached event ids per clock (a republished copy has the same id)."""
    found: dict[UUID, set[UUID]] = defaultdict(set)
    for event in sla_events_about(events, subjects):
        if event.type == "sla.breached":
            found[event.data.clock_id].add(event.id)  # type: ignore[attr-defined]
    return found


async def test_kill_9_in_a_stream_loses_no_breach_and_duplicates_none(
    service_processes, producer: AIOKafkaProducer, event_tap
) -> None:
    offset = OFFICE_OPEN - datetime.now(UTC)
    clock = SystemClock(offset)
    service = service_processes(
        "sla-a",
        SLA_CONSUMER_GROUP=f"sla-kill-{uuid4().hex[:12]}",
        SLA_CLOCK_OFFSET_SECONDS=str(offset.total_seconds()),
    ).start()
    answered: list[Call] = []
    unanswered: list[Call] = []
    abandoned_late: list[Call] = []
    async with event_tap("sla.events") as tap:
        await wait_until(
            lambda: _true(service.owned()), timeout=60, what="the service to join its group"
        )
        for index in range(48):
            call = Call(clock.now())
            kind = index % 3
            if kind == 0:
                answered.append(call)
                events = [call.offered(), call.answered(5 * S)]
            elif kind == 1:
                unanswered.append(call)
                events = [call.offered()]
            else:
                abandoned_late.append(call)
                events = [call.offered(), call.abandoned(20 * S)]
            await publish(producer, events)
            if index == 24:
                service.kill()
                service.start()
            await asyncio.sleep(0.25)
        subjects = {c.id for c in answered + unanswered + abandoned_late}
        expected = {clock_id("phone-answer", c.id, 0) for c in unanswered + abandoned_late}

        def all_flagged(events: list[CloudEvent]) -> bool:
            return expected <= set(breaches_per_clock(events, subjects))

        await tap.wait_for(all_flagged, timeout=120)
        met = {
            e.data.clock_id  # type: ignore[attr-defined]
            for e in sla_events_about(tap.events, subjects)
            if e.type == "sla.met"
        }
        await tap.wait_for(
            lambda evs: (
                {clock_id("phone-answer", c.id, 0) for c in answered}
                <= {e.data.clock_id for e in sla_events_about(evs, subjects) if e.type == "sla.met"}
            ),  # type: ignore[attr-defined]
            timeout=60,
        )
        flagged = breaches_per_clock(tap.events, subjects)
        assert set(flagged) == expected  # none lost, none for a call answered in time
        assert all(len(ids) == 1 for ids in flagged.values())  # none duplicated
        raw = Counter(
            e.data.clock_id  # type: ignore[attr-defined]
            for e in sla_events_about(tap.events, subjects)
            if e.type == "sla.breached"
        )
        print(f"breaches: {len(flagged)} clocks, {sum(raw.values())} messages; met seen {len(met)}")
    service.terminate()


async def _true(value: object) -> bool:
    return bool(value)


async def test_a_second_instance_takes_over_the_clocks_of_one_stopped(
    service_processes, producer: AIOKafkaProducer, event_tap, database_url: str
) -> None:
    offset = OFFICE_OPEN - datetime.now(UTC)
    clock = SystemClock(offset)
    env = {
        "SLA_CONSUMER_GROUP": f"sla-pair-{uuid4().hex[:12]}",
        "SLA_CLOCK_OFFSET_SECONDS": str(offset.total_seconds()),
    }
    first = service_processes("sla-first", **env).start()
    await wait_until(lambda: _true(first.owned()), timeout=60, what="the first instance")
    second = service_processes("sla-second", **env).start()

    async def shared() -> bool:
        a, b = first.owned(), second.owned()
        return bool(a) and bool(b) and not (a & b) and len(a | b) == 6

    await wait_until(shared, timeout=90, what="the two instances to share the partitions")
    calls = [Call(clock.now()) for _ in range(30)]
    subjects = {c.id for c in calls}
    engine = create_engine(database_url, schema="sla")
    try:
        async with event_tap("sla.events") as tap:
            await publish(producer, [c.offered() for c in calls])

            async def all_started() -> bool:
                async with engine.connect() as connection:
                    rows = list(
                        await connection.execute(
                            select(clock_table.c.partition).where(
                                clock_table.c.commitment == "phone-answer",
                                clock_table.c.subject.in_(subjects),
                            )
                        )
                    )
                return len(rows) == len(calls)

            await wait_until(all_started, timeout=60, what="both instances to start the clocks")
            async with engine.connect() as connection:
                partitions = {
                    row.partition
                    for row in await connection.execute(
                        select(clock_table.c.partition).where(clock_table.c.subject.in_(subjects))
                    )
                }
            second_owned = second.owned() or set()
            assert partitions & second_owned, "the second instance had none of the clocks"
            second.terminate()  # before any deadline: its clocks must now be the first's
            expected = {clock_id("phone-answer", c.id, 0) for c in calls}
            await tap.wait_for(
                lambda evs: expected <= set(breaches_per_clock(evs, subjects)), timeout=90
            )
            assert first.owned() == set(range(6))
            flagged = breaches_per_clock(tap.events, subjects)
            assert all(len(ids) == 1 for ids in flagged.values())
    finally:
        await engine.dispose()
    first.terminate()
