"""Stops recorded after the timer flagged the breach: made in time, the breach is withdrawn (the
clock is met, sla.met corrects it); made late, the breach stands and is closed (sla.stopped)."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from aiokafka import AIOKafkaProducer

from contact_common.events import CloudEvent
from sla_monitor.clocks.domain import clock_id
from sla_monitor.timekeeping import FakeClock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from upstream_events import Enquiry, london, publish, sla_events_about, wait_until  # noqa: E402

WEDNESDAY = date(2026, 6, 3)
T0 = london(WEDNESDAY, time(10))
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


async def clock_of(client: httpx.AsyncClient, subject: UUID, commitment: str) -> dict[str, Any]:
    response = await client.get("/v1/clocks", params={"subject": str(subject)})
    assert response.status_code == 200, response.text
    return next(c for c in response.json() if c["commitment"] == commitment)


async def open_breaches(client: httpx.AsyncClient, **params: str) -> set[str]:
    response = await client.get(
        "/v1/breaches", params={"commitment": "email-acknowledge", "limit": "200", **params}
    )
    assert response.status_code == 200, response.text
    return {item["clock_id"] for item in response.json()["items"]}


async def test_a_stop_recorded_after_the_timer_breach_corrects_or_closes_it(
    sla_monitor, producer: AIOKafkaProducer, event_tap
) -> None:
    clock = FakeClock(T0 - HOUR)
    kept, late = Enquiry(T0), Enquiry(T0)  # acknowledgements due Thursday 17:00
    kept_ack = str(clock_id("email-acknowledge", kept.id, 0))
    late_ack = str(clock_id("email-acknowledge", late.id, 0))
    subjects = {kept.id, late.id}
    async with sla_monitor(clock) as (_, client), event_tap("sla.events") as tap:
        await publish(producer, [kept.opened(), late.opened()])

        def ours(events: list[CloudEvent], kind: str, clock: str) -> list[CloudEvent]:
            return [
                e
                for e in sla_events_about(events, subjects)
                if e.type == kind and str(e.data.clock_id) == clock  # type: ignore[attr-defined]
            ]

        # Friday 10:00: both acknowledgements are overdue (the responses are due Monday).
        await clock.set(T0 + 2 * DAY)
        await tap.wait_for(
            lambda evs: (
                bool(ours(evs, "sla.breached", kept_ack))
                and bool(ours(evs, "sla.breached", late_ack))
            ),
            timeout=60,
        )
        assert {kept_ack, late_ack} <= await open_breaches(client, open="true")

        # Recorded late: the acknowledgement made Wednesday at noon, delivered twice; the other
        # enquiry's reply made Friday 09:00, after its acknowledgement deadline.
        acknowledgement = kept.acknowledged(T0 + 2 * HOUR)
        await publish(producer, [acknowledgement, acknowledgement])
        await publish(producer, [late.responded(T0 + 2 * DAY - HOUR)])
        # Then a later stop of the corrected clock (the reply), delivered after the repeats.
        await publish(producer, [kept.responded(T0 + 2 * DAY)])

        async def settled() -> bool:
            respond = await clock_of(client, kept.id, "email-respond")
            return respond["status"] == "met"

        await wait_until(settled, timeout=60, what="the late records to be applied")
        await tap.wait_for(
            lambda evs: (
                bool(ours(evs, "sla.met", str(clock_id("email-respond", kept.id, 0))))
                and bool(ours(evs, "sla.met", kept_ack))
                and bool(ours(evs, "sla.stopped", late_ack))
            ),
            timeout=60,
        )

        corrected = await clock_of(client, kept.id, "email-acknowledge")
        assert corrected["status"] == "met"
        assert corrected["stopped_at"] == "2026-06-03T11:00:00Z"  # noon BST
        assert corrected["breached_at"] is None and corrected["breach_withdrawn_at"] is not None
        closed = await clock_of(client, late.id, "email-acknowledge")
        assert closed["status"] == "breached"
        assert closed["breached_at"] == closed["due_at"]
        assert closed["stopped_at"] == "2026-06-05T08:00:00Z"  # Friday 09:00 BST

        assert await open_breaches(client, open="true") & {kept_ack, late_ack} == set()
        every = await open_breaches(client)
        assert late_ack in every and kept_ack not in every

        [met] = ours(tap.events, "sla.met", kept_ack)
        assert met.data.corrects_breach is True  # type: ignore[attr-defined]
        assert met.data.stopped_at == T0 + 2 * HOUR  # type: ignore[attr-defined]
        [stopped] = ours(tap.events, "sla.stopped", late_ack)
        assert stopped.data.breached_at == stopped.data.due_at  # type: ignore[attr-defined]
        assert stopped.data.stopped_at == T0 + 2 * DAY - HOUR  # type: ignore[attr-defined]
        # Once each per clock: the repeat, the later reply, the timers change nothing.
        published = Counter(
            (str(e.data.clock_id), e.type)  # type: ignore[attr-defined]
            for e in sla_events_about(tap.events, subjects)
        )
        assert published[(kept_ack, "sla.met")] == 1
        assert published[(kept_ack, "sla.breached")] == 1
        assert published[(late_ack, "sla.stopped")] == 1
        assert published[(late_ack, "sla.breached")] == 1
        assert set(published.values()) == {1}
