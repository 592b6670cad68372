"""Consumes contact.events: each event once (the inbox), in one transaction per batch."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_common.bus.consumer import BatchHandler, ConsumedEvent
from contact_common.db import transaction
from contact_common.inbox import claim_many
from sla_monitor.models import inbox_message

CONSUMER = "sla-monitor"


def contact_events_handler(session_factory: async_sessionmaker[AsyncSession]) -> BatchHandler:
    """The batch handler of contact.events."""

    async def handle(batch: Sequence[ConsumedEvent]) -> None:
        async with transaction(session_factory) as session:
            await claim_many(
                session,
                inbox_message,
                consumer=CONSUMER,
                events=[(item.event.id, item.event.type) for item in batch],
            )

    return handle
