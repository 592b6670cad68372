"""Every default commitment met and breached, through the real broker and database, on a clock
the test moves: the 10- and 20-working-day commitments are tested without waiting for them."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from aiokafka import AIOKafkaProducer

from contact_common.events import Channel, CloudEvent
from sla_monitor.clocks.domain import clock_id
from sla_monitor.timekeeping import FakeClock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from upstream_events import (  # noqa: E402
    Call,
    Complaint,
    Enquiry,
    Visit,
    london,
    publish,
    sla_events_about,
    wait_until,
)

WEDNESDAY = date(2026, 6, 3)
T0 = london(WEDNESDAY, time(10))
S = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


async def clocks_of(client: httpx.AsyncClient, subject: UUID) -> dict[tuple[str, int], Any]:
    response = await client.get("/v1/clocks", params={"subject": str(subject)})
    assert response.status_code == 200, response.text
    return {(c["commitment"], c["sequence"]): c for c in response.json()}


async def statuses(client: httpx.AsyncClient, subject: UUID) -> dict[tuple[str, int], str]:
    return {key: c["status"] for key, c in (await clocks_of(client, subject)).items()}


async def test_each_default_commitment_met_and_breached(
    sla_monitor, producer: AIOKafkaProducer, event_tap
) -> None:
    clock = FakeClock(T0 - MINUTE)
    call_met, call_late, call_silent, call_short = Call(T0), Call(T0), Call(T0), Call(T0)
    standby, evening = Call(T0, channel=Channel.standby), Call(london(WEDNESDAY, time(19)))
    visit_met, visit_late = Visit(T0), Visit(T0)
    email_met, email_silent = Enquiry(T0), Enquiry(T0)
    letter_met = Enquiry(T0, channel=Channel.letter)
    letter_silent = Enquiry(T0, channel=Channel.letter)
    voicemail_met = Enquiry(T0, channel=Channel.voicemail)
    voicemail_late = Enquiry(T0, channel=Channel.voicemail)
    web_form = Enquiry(T0, channel=Channel.web_form)
    complaint_met, complaint_silent, stage2_silent = Complaint(T0), Complaint(T0), Complaint(T0)
    events: list[CloudEvent] = [
        call_met.offered(),
        call_met.answered(5 * S),
        call_late.offered(),
        call_late.answered(11 * MINUTE),
        call_silent.offered(),
        call_short.offered(),
        call_short.abandoned(10 * S),
        standby.offered(),
        evening.offered(),
        visit_met.arrived(),
        visit_met.attended(4 * MINUTE),
        visit_late.arrived(),
        visit_late.attended(6 * MINUTE),
        email_met.opened(),
        email_met.acknowledged(T0 + HOUR),
        email_met.responded(T0 + DAY),
        email_silent.opened(),
        letter_met.opened(),
        letter_met.responded(T0 + 5 * DAY),
        letter_silent.opened(),
        voicemail_met.opened(),
        voicemail_met.resolved(T0 + HOUR),
        voicemail_late.opened(),
        voicemail_late.responded(T0 + 3 * DAY),
        web_form.opened(),
        complaint_met.received(),
        complaint_met.acknowledged(T0 + DAY),
        complaint_met.responded(T0 + 5 * DAY),
        complaint_met.escalated(T0 + 6 * DAY),
        complaint_met.acknowledged(T0 + 7 * DAY, stage="stage_2"),
        complaint_met.responded(T0 + 15 * DAY, stage="stage_2"),
        complaint_silent.received(),
        stage2_silent.received(),
        stage2_silent.acknowledged(T0 + HOUR),
        stage2_silent.responded(T0 + DAY),
        stage2_silent.escalated(T0 + 2 * DAY),
    ]
    subjects = {UUID(e.subject) for e in events}
    async with sla_monitor(clock) as (_, client), event_tap("sla.events") as tap:
        await publish(producer, events)

        async def stops_applied() -> bool:
            # Each subject's last event applied (a subject's events keep their order), before the
            # clock jumps: a stop applied after the jump would race the timer's breach.
            last_steps = {
                (call_met.id, "phone-answer"): "met",
                (call_late.id, "phone-answer"): "breached",
                (visit_met.id, "reception-attend"): "met",
                (visit_late.id, "reception-attend"): "breached",
                (email_met.id, "email-respond"): "met",
                (letter_met.id, "letter-respond"): "met",
                (voicemail_met.id, "voicemail-respond"): "met",
            }
            for (subject, commitment), status in last_steps.items():
                if (await statuses(client, subject)).get((commitment, 0)) != status:
                    return False
            return (
                (await statuses(client, stage2_silent.id)).get(("complaint-acknowledge", 2))
                == "pending"
                and (await statuses(client, complaint_met.id)).get(("complaint-respond-stage2", 2))
                == "met"
                and (await statuses(client, call_short.id)).get(("phone-wait-max", 0)) == "excluded"
                and (await statuses(client, voicemail_late.id)).get(("voicemail-respond", 0))
                == "breached"
                and len(await clocks_of(client, letter_silent.id)) == 1
            )

        await wait_until(stops_applied, timeout=60, what="the events to be applied")
        # Nothing is overdue yet on the test's clock: the silent contacts' clocks run.
        assert await statuses(client, call_silent.id) == {
            ("phone-answer", 0): "pending",
            ("phone-wait-max", 0): "pending",
        }
        await clock.set(T0 + 60 * DAY)

        def breached(events: list[CloudEvent]) -> set[UUID]:
            return {
                e.data.clock_id  # type: ignore[attr-defined]
                for e in sla_events_about(events, subjects)
                if e.type == "sla.breached"
            }

        silent = {
            clock_id("phone-answer", call_silent.id, 0),
            clock_id("phone-wait-max", call_silent.id, 0),
            clock_id("email-acknowledge", email_silent.id, 0),
            clock_id("email-respond", email_silent.id, 0),
            clock_id("letter-respond", letter_silent.id, 0),
            clock_id("complaint-acknowledge", complaint_silent.id, 1),
            clock_id("complaint-respond", complaint_silent.id, 1),
            clock_id("complaint-acknowledge", stage2_silent.id, 2),
            clock_id("complaint-respond-stage2", stage2_silent.id, 2),
        }
        await tap.wait_for(lambda evs: silent <= breached(evs), timeout=60)

        outcomes: dict[str, set[str]] = {}
        for subject in subjects:
            for (commitment, _), item in (await clocks_of(client, subject)).items():
                outcomes.setdefault(commitment, set()).add(item["status"])
                if item["status"] == "breached":
                    assert item["breached_at"] == item["due_at"]
        for commitment in (
            "phone-answer",
            "phone-wait-max",
            "reception-attend",
            "email-acknowledge",
            "email-respond",
            "letter-respond",
            "voicemail-respond",
            "complaint-acknowledge",
            "complaint-respond",
            "complaint-respond-stage2",
        ):
            assert {"met", "breached"} <= outcomes[commitment], commitment
        assert await clocks_of(client, standby.id) == {}
        assert await clocks_of(client, evening.id) == {}
        assert await clocks_of(client, web_form.id) == {}

        # Each clock's outcome was published once: one met or one breach, never both.
        ours = sla_events_about(tap.events, subjects)
        outcomes_per_clock = Counter(
            e.data.clock_id  # type: ignore[attr-defined]
            for e in ours
            if e.type in ("sla.met", "sla.breached")
        )
        assert max(outcomes_per_clock.values()) == 1
        late = next(
            e
            for e in ours
            if e.type == "sla.breached"
            and e.data.clock_id == clock_id("phone-answer", call_late.id, 0)  # type: ignore[attr-defined]
        )
        assert late.data.breached_at == T0 + 15 * S  # type: ignore[attr-defined]
        assert late.data.stopped_at == T0 + 11 * MINUTE  # type: ignore[attr-defined]


async def test_design_examples_to_the_minute(
    sla_monitor, producer: AIOKafkaProducer, event_tap
) -> None:
    """An email received Friday 16:00 before a bank holiday Monday is due Tuesday 17:00; one
    received Friday 17:30 is due Wednesday 17:00 (31 August 2026 is the summer bank holiday)."""
    friday = date(2026, 8, 28)
    at_four = Enquiry(london(friday, time(16)))
    at_half_five = Enquiry(london(friday, time(17, 30)))
    tuesday_five = london(date(2026, 9, 1), time(17))
    wednesday_five = london(date(2026, 9, 2), time(17))
    clock = FakeClock(london(friday, time(17, 45)))
    subjects = {at_four.id, at_half_five.id}
    async with sla_monitor(clock) as (_, client), event_tap("sla.events") as tap:
        await publish(producer, [at_four.opened(), at_half_five.opened()])

        async def started() -> bool:
            return all([await clocks_of(client, s) for s in subjects])

        await wait_until(started, timeout=60, what="the clocks to start")
        four = (await clocks_of(client, at_four.id))[("email-acknowledge", 0)]
        half_five = (await clocks_of(client, at_half_five.id))[("email-acknowledge", 0)]
        assert four["due_at"] == tuesday_five.isoformat().replace("+00:00", "Z")
        assert half_five["due_at"] == wednesday_five.isoformat().replace("+00:00", "Z")
        respond = (await clocks_of(client, at_four.id))[("email-respond", 0)]
        assert respond["due_at"] == "2026-09-03T16:00:00Z"  # Thursday 17:00 BST

        def kinds(events: list[CloudEvent], subject: UUID) -> list[str]:
            return [
                e.type
                for e in sla_events_about(events, {subject})
                if e.data.commitment == "email-acknowledge"  # type: ignore[attr-defined]
            ]

        # A minute before the deadline: at risk, not breached.
        await clock.set(tuesday_five - MINUTE)
        await tap.wait_for(lambda evs: "sla.at_risk" in kinds(evs, at_four.id), timeout=30)
        assert (await statuses(client, at_four.id))[("email-acknowledge", 0)] == "pending"
        # A minute after: breached, at the deadline.
        await clock.set(tuesday_five + MINUTE)
        events = await tap.wait_for(
            lambda evs: "sla.breached" in kinds(evs, at_four.id), timeout=30
        )
        breach = next(
            e
            for e in sla_events_about(events, {at_four.id})
            if e.type == "sla.breached" and e.data.commitment == "email-acknowledge"  # type: ignore[attr-defined]
        )
        assert breach.data.breached_at == tuesday_five  # type: ignore[attr-defined]
        assert "sla.breached" not in kinds(tap.events, at_half_five.id)
        assert (await statuses(client, at_half_five.id))[("email-acknowledge", 0)] == "pending"
        await clock.set(wednesday_five + MINUTE)
        await tap.wait_for(lambda evs: "sla.breached" in kinds(evs, at_half_five.id), timeout=30)


async def test_duplicates_and_reordering_change_nothing(
    sla_monitor, producer: AIOKafkaProducer, event_tap
) -> None:
    clock = FakeClock(T0 - MINUTE)

    def life(enquiry: Enquiry) -> list[CloudEvent]:
        return [
            enquiry.opened(),
            enquiry.acknowledged(T0 + 32 * HOUR),  # Thursday 18:00: an hour late
            enquiry.responded(T0 + 2 * DAY),
            enquiry.resolved(T0 + 2 * DAY + HOUR),
        ]

    in_order, reversed_, repeated = Enquiry(T0), Enquiry(T0), Enquiry(T0)
    call_in_order, call_reversed = Call(T0), Call(T0)
    stranger = Enquiry(T0)
    repeated_events = life(repeated)
    events = [
        *life(in_order),
        *reversed(life(reversed_)),
        *repeated_events,
        *repeated_events,
        repeated_events[2],
        call_in_order.offered(),
        call_in_order.answered(20 * S),
        call_reversed.answered(20 * S),
        call_reversed.offered(),
        stranger.acknowledged(T0 + HOUR),  # a contact this service never saw opened
    ]
    subjects = {in_order.id, reversed_.id, repeated.id, call_in_order.id, call_reversed.id}

    def comparable(clocks: dict[tuple[str, int], Any]) -> dict[tuple[str, int], tuple[Any, ...]]:
        fields = ("started_at", "due_at", "status", "stopped_at", "breached_at")
        return {key: tuple(c[f] for f in fields) for key, c in clocks.items()}

    async with sla_monitor(clock) as (_, client), event_tap("sla.events") as tap:
        await publish(producer, events)
        await publish(producer, repeated_events)  # delivered again, later

        async def settled() -> bool:
            for subject in (in_order.id, reversed_.id, repeated.id):
                if (await statuses(client, subject)).get(("email-respond", 0)) != "met":
                    return False
            for call in (call_in_order, call_reversed):
                if (await statuses(client, call.id)).get(("phone-answer", 0)) != "breached":
                    return False
            return True

        await wait_until(settled, timeout=60, what="the events to be applied")
        expected = comparable(await clocks_of(client, in_order.id))
        assert expected[("email-acknowledge", 0)][2] == "breached"
        assert comparable(await clocks_of(client, reversed_.id)) == expected
        assert comparable(await clocks_of(client, repeated.id)) == expected
        assert comparable(await clocks_of(client, call_reversed.id)) == comparable(
            await clocks_of(client, call_in_order.id)
        )
        assert await clocks_of(client, stranger.id) == {}

        # Per enquiry: the acknowledgement's breach and the response's met; per call: the
        # answer's breach and the wait's met. Once each, however often the events came.
        expected_per_clock = 2 * 3 + 2 * 2
        await tap.wait_for(
            lambda evs: len(sla_events_about(evs, subjects)) >= expected_per_clock, timeout=30
        )
        published = Counter(
            (e.data.clock_id, e.type)  # type: ignore[attr-defined]
            for e in sla_events_about(tap.events, subjects)
        )
        assert len(published) == expected_per_clock
        assert set(published.values()) == {1}
