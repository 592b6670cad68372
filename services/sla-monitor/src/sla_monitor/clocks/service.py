"""What happens to clocks: a batch of contact events, a timer firing, a question from the API.

Functions take the caller's session and never commit: the consumer, the timers and the request
each own one transaction, in which a clock's change, its sla.* event (the outbox) and the event's
webhook deliveries are written together, so a crash leaves all or none.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.bus.consumer import ConsumedEvent
from contact_common.calendar import WorkingCalendar
from contact_common.commitments import Policy
from contact_common.errors import ProblemError
from contact_common.events import (
    CloudEvent,
    SlaAtRisk,
    SlaAtRiskData,
    SlaBreached,
    SlaBreachedData,
    SlaMet,
    SlaMetData,
    SlaStopped,
    SlaStoppedData,
    SlaWithdrawn,
    SlaWithdrawnData,
)
from contact_common.inbox import claim_many
from sla_monitor.alerts import service as alerts
from sla_monitor.clocks import repository
from sla_monitor.clocks.domain import (
    AFTER_WITHDRAWAL,
    AMENDMENTS,
    Evaluation,
    Notice,
    SlaClock,
    evaluate,
    notice_id,
    step_of,
)
from sla_monitor.models import inbox_message, outbox
from sla_monitor.webhooks import service as webhooks
from sla_monitor.worklist.service import record_contact_facts

CONSUMER = "sla-monitor"
SOURCE = "/sla-monitor"


def notice_event(notice: Notice) -> CloudEvent:
    """The sla.* event for a notice; its id is derived from the clock, so repeats are one event."""
    item = notice.clock
    common: dict[str, Any] = {
        "clock_id": item.id,
        "commitment": item.commitment,
        "contact_type": item.contact_type,
        "contact_id": item.subject,
        "channel": item.channel,
        "service_area": item.service_area,
        "started_at": item.started_at,
        "due_at": item.due_at,
    }
    event_id = notice_id(notice)
    if notice.kind == "sla.withdrawn":
        assert notice.withdrawn is not None and item.breach_withdrawn_at is not None
        # A met clock withdrawn by a correction or a void names the deadline it was met by.
        breached_at = item.breached_at or item.due_at
        return SlaWithdrawn.from_data(
            SlaWithdrawnData(
                **common,
                breached_at=breached_at,
                withdrawn_at=item.breach_withdrawn_at,
                cause=notice.withdrawn,
                status=notice.status_after or AFTER_WITHDRAWAL[notice.withdrawn],
            ),
            source=SOURCE,
            id=event_id,
        )
    if notice.kind == "sla.met":
        assert notice.stopped_at is not None
        elapsed = (notice.stopped_at - item.started_at).total_seconds()
        return SlaMet.from_data(
            SlaMetData(
                **common,
                stopped_at=notice.stopped_at,
                elapsed_seconds=max(elapsed, 0.0),
                corrects_breach=notice.corrects_breach,
            ),
            source=SOURCE,
            id=event_id,
        )
    if notice.kind == "sla.stopped":
        assert notice.stopped_at is not None and item.breached_at is not None
        return SlaStopped.from_data(
            SlaStoppedData(**common, breached_at=item.breached_at, stopped_at=notice.stopped_at),
            source=SOURCE,
            id=event_id,
        )
    if notice.kind == "sla.breached":
        assert item.breached_at is not None
        return SlaBreached.from_data(
            SlaBreachedData(**common, breached_at=item.breached_at, stopped_at=notice.stopped_at),
            source=SOURCE,
            id=event_id,
        )
    return SlaAtRisk.from_data(
        SlaAtRiskData(**common, at_risk_at=item.at_risk_at), source=SOURCE, id=event_id
    )


async def announce(session: AsyncSession, notices: Sequence[Notice]) -> None:
    """Writes the notices' sla.* events to the outbox and to the webhooks that want them."""
    events = [notice_event(n) for n in notices]
    await outbox.add_many(session, events)
    # The wall clock, not the service's: a delivery's retries run in real time.
    await webhooks.enqueue(session, events=events, now=datetime.now(UTC))


async def handle_contact_events(
    session: AsyncSession,
    *,
    batch: Sequence[ConsumedEvent],
    policy: Policy,
    calendar: WorkingCalendar,
    now: datetime,
    publish: bool = True,
) -> Evaluation:
    """Applies a batch of contact events to the clocks: each event once (the inbox).

    The contacts' clocks are read under lock, evaluated in memory by the domain rules, and
    written back in bulk with their notices in the outbox.
    """
    fresh = await claim_many(
        session,
        inbox_message,
        consumer=CONSUMER,
        events=[(item.event.id, item.event.type) for item in batch],
    )
    # The references and owners the worklist shows, whether or not a clock listens to the event.
    await record_contact_facts(
        session, events=[item.event for item in batch if item.event.id in fresh]
    )
    steps = []
    for item in batch:
        listened = item.event.type in policy.listening or item.event.type in AMENDMENTS
        if item.event.id not in fresh or not listened:
            continue
        step = step_of(item.event)
        if step is not None:
            steps.append((step, item.partition))
    if not steps:
        return Evaluation()
    subjects = sorted({step.subject for step, _ in steps})
    starting = sorted(
        {
            step.subject
            for step, _ in steps
            if step.type in AMENDMENTS
            or any(step.type in c.start_events for c in policy.listening[step.type])
        }
    )
    clocks = await repository.lock_clocks_of(session, subjects)
    held = await repository.held_steps_of(session, starting)
    evaluation = evaluate(
        steps, policy=policy, calendar=calendar, now=now, clocks=clocks, held=held
    )
    await repository.insert_clocks(session, evaluation.started)
    await repository.update_clocks(session, evaluation.changed.values())
    await repository.insert_held(session, evaluation.held)
    if publish and evaluation.notices:
        await announce(session, evaluation.notices)
        # The breach's alert mails in the same transaction: recorded together or not at all.
        await alerts.queue_breach_mails(session, notices=evaluation.notices, now=now)
    return evaluation


async def flag_breaches(
    session: AsyncSession, *, ids: Sequence[UUID], now: datetime
) -> list[SlaClock]:
    """Flags the clocks among `ids` whose deadline has passed with no stop; publishes each once."""
    flagged = await repository.flag_breaches(session, ids=ids, now=now)
    if flagged:
        notices = [Notice("sla.breached", item) for item in flagged]
        await announce(session, notices)
        # The breach's alert mails in the same transaction: recorded together or not at all.
        await alerts.queue_breach_mails(session, notices=notices, now=now)
    return flagged


async def flag_at_risk(
    session: AsyncSession, *, ids: Sequence[UUID], now: datetime
) -> list[SlaClock]:
    """Announces the clocks among `ids` that reached their at-risk share; each once."""
    flagged = await repository.flag_at_risk(session, ids=ids, now=now)
    if flagged:
        await announce(session, [Notice("sla.at_risk", item) for item in flagged])
    return flagged


async def clocks_of_contact(session: AsyncSession, *, subject: UUID) -> list[SlaClock]:
    """A contact's clocks."""
    return await repository.clocks_of(session, subject)


def encode_cursor(item: SlaClock) -> str:
    """An opaque cursor after `item` in the breach list."""
    assert item.breached_at is not None
    raw = orjson.dumps([item.breached_at.isoformat(), str(item.id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, clock = orjson.loads(raw)
        return datetime.fromisoformat(at), UUID(clock)
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError) as exc:
        raise ProblemError(
            422,
            "cursor is not one this service issued; use next_cursor from a previous page",
            problem="invalid-cursor",
        ) from exc


async def list_breaches(
    session: AsyncSession,
    *,
    calendar: WorkingCalendar,
    commitment: str | None,
    service_area: str | None,
    open_only: bool,
    breached_from: date | None,
    breached_to: date | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[SlaClock], str | None]:
    """A page of breaches (latest first) and the cursor of the next page, if there is one."""
    if breached_from and breached_to and breached_from > breached_to:
        raise ProblemError(
            422, "from must not be after to", problem="invalid-range", field="query.from"
        )

    def local_midnight(day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=calendar.timezone)

    items = await repository.breaches(
        session,
        commitment=commitment,
        service_area=service_area,
        open_only=open_only,
        breached_from=local_midnight(breached_from) if breached_from else None,
        breached_before=(local_midnight(breached_to + timedelta(days=1)) if breached_to else None),
        after=_decode_cursor(cursor) if cursor else None,
        limit=limit + 1,
    )
    if len(items) > limit:
        return items[:limit], encode_cursor(items[limit - 1])
    return items, None
