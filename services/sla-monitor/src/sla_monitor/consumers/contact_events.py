"""Consumes contact.events: each batch in one transaction, then its clocks go to the timers."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_common.bus.consumer import BatchHandler, ConsumedEvent
from contact_common.calendar import WorkingCalendar
from contact_common.commitments import Policy
from contact_common.db import transaction
from sla_monitor.clocks import service
from sla_monitor.clocks.timers import ClockTimers
from sla_monitor.timekeeping import Clock


def contact_events_handler(
    *,
    session_factory: async_sessionmaker[AsyncSession],
    policy: Policy,
    calendar: WorkingCalendar,
    clock: Clock,
    timers: ClockTimers | None = None,
    publish: bool = True,
) -> BatchHandler:
    """The batch handler of contact.events (the live consumer's, and the replay's)."""

    async def handle(batch: Sequence[ConsumedEvent]) -> None:
        async with transaction(session_factory) as session:
            evaluation = await service.handle_contact_events(
                session,
                batch=batch,
                policy=policy,
                calendar=calendar,
                now=clock.now(),
                publish=publish,
            )
        # Only after the commit: a timer must never look for a clock not yet visible.
        if timers is not None:
            timers.track([*evaluation.started, *evaluation.changed.values()])

    return handle
