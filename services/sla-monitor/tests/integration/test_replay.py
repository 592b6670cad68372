"""Replay: the clocks rebuilt from contact.events are the clocks and breaches of the live run."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from uuid import UUID

from aiokafka import AIOKafkaProducer
from sqlalchemy import select

from contact_common.db import create_engine
from contact_common.events import Channel, CloudEvent
from contact_devtools.processes import minimal_env
from sla_monitor.clocks.models import clock as clock_table
from sla_monitor.timekeeping import FakeClock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from upstream_events import (  # noqa: E402
    Call,
    Complaint,
    Enquiry,
    london,
    publish,
    sla_events_about,
)

T0 = london(date(2026, 6, 3), time(10))
S = timedelta(seconds=1)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
COMPARED = (
    "commitment",
    "subject",
    "sequence",
    "started_at",
    "due_at",
    "status",
    "stopped_at",
    "breached_at",
    "extended_at",
)


async def snapshot(database_url: str, subjects: set[UUID]) -> set[tuple[object, ...]]:
    engine = create_engine(database_url, schema="sla")
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(*(clock_table.c[name] for name in COMPARED)).where(
                    clock_table.c.subject.in_(subjects)
                )
            )
            return {tuple(row) for row in rows}
    finally:
        await engine.dispose()


async def test_replay_reaches_the_same_clocks_and_breaches(
    sla_monitor,
    producer: AIOKafkaProducer,
    event_tap,
    database_url: str,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    clock = FakeClock(T0 - S)
    silent_email, answered, late = Enquiry(T0), Call(T0), Call(T0)
    reopened = Enquiry(T0, channel=Channel.letter)
    complaint = Complaint(T0)
    # Recorded late, after the timers flagged their clocks: an acknowledgement made in time (the
    # breach is withdrawn: met, as the replay finds it) and a reply made after the deadlines.
    late_ack, late_reply = Enquiry(T0), Enquiry(T0)
    events: list[CloudEvent] = [
        silent_email.opened(),
        answered.offered(),
        answered.answered(4 * S),
        late.offered(),
        late.abandoned(40 * S),
        reopened.opened(),
        reopened.resolved(T0 + DAY),
        reopened.reopened(T0 + 2 * DAY),
        complaint.received(),
        complaint.acknowledged(T0 + DAY),
        complaint.extended(T0 + 8 * DAY, working_days=10),
        complaint.responded(T0 + 12 * DAY),
        late_ack.opened(),
        late_reply.opened(),
    ]
    recorded_late = [late_ack.acknowledged(T0 + HOUR), late_reply.responded(T0 + 10 * DAY)]
    subjects = {UUID(e.subject) for e in events}
    async with sla_monitor(clock) as (_, client), event_tap("sla.events") as tap:
        await publish(producer, events)
        await tap.wait_for(
            lambda evs: (
                len([e for e in sla_events_about(evs, subjects) if e.type == "sla.met"]) >= 5
            ),  # the answered call: 2, the letter: 1, the complaint: 2
            timeout=60,
        )
        await clock.set(T0 + 40 * DAY)
        # The late call's breach at once; by the timers, the silent email's two clocks, the
        # reopened letter's new clock and the two clocks of each late-recorded enquiry.
        await tap.wait_for(
            lambda evs: (
                len([e for e in sla_events_about(evs, subjects) if e.type == "sla.breached"]) >= 8
            ),
            timeout=60,
        )
        await publish(producer, recorded_late)

        def late_notices(evs: list[CloudEvent]) -> list[str]:
            return sorted(
                e.type + ("/corrects" if getattr(e.data, "corrects_breach", False) else "")
                for e in sla_events_about(evs, {late_ack.id, late_reply.id})
                if e.type in ("sla.met", "sla.stopped")
            )

        await tap.wait_for(
            lambda evs: late_notices(evs) == ["sla.met/corrects", "sla.stopped", "sla.stopped"],
            timeout=60,
        )
        live = await snapshot(database_url, subjects)
    statuses = sorted(str(row[5]) for row in live)
    # Breached: the silent email's 2, the letter's new clock, the late call's answer, the late
    # reply's 2 and the late acknowledgement's response clock (its acknowledgement is met).
    assert statuses.count("breached") == 7 and statuses.count("met") == 6, statuses
    assert statuses.count("excluded") == 1  # the late call's wait: a short abandon for it

    offset = (clock.now() - datetime.now(UTC)).total_seconds()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sla_monitor",
        "replay",
        "--yes",
        env=minimal_env(
            SLA_DATABASE_URL=database_url,
            KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
            SLA_CLOCK_OFFSET_SECONDS=str(offset),
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,  # no .env of the developer's is read
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, output.decode()
    assert b"Replayed" in output
    print(output.decode())
    assert await snapshot(database_url, subjects) == live
