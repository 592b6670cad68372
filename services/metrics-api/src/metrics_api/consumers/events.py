"""Consumes contact.events and sla.events: each event once (the inbox), a transaction a batch."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_common.bus.consumer import BatchHandler, ConsumedEvent
from contact_common.calendar import WorkingCalendar
from contact_common.db import transaction
from metrics_api import ops
from metrics_api.readmodel import service
from metrics_api.readmodel.domain import CountingRules


def events_handler(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    group: str,
    rules: CountingRules,
    calendar: WorkingCalendar,
) -> BatchHandler:
    """The batch handler of both topics."""

    async def handle(batch: Sequence[ConsumedEvent]) -> None:
        async with transaction(session_factory) as session:
            outcome = await service.apply_events(
                session, [item.event for item in batch], rules=rules, calendar=calendar
            )
        ops.record_batch(group, outcome)
        if outcome.breaches_changed:
            await refresh_open_breaches(session_factory)

    return handle


async def refresh_open_breaches(session_factory: async_sessionmaker[AsyncSession]) -> None:
    """Sets the open-breach gauge from the read model."""
    async with session_factory() as session:
        ops.set_open_breaches(await service.open_breach_counts(session))
