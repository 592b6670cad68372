"""Consumes contact.events and sla.events: each event once (the inbox), a transaction a batch."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_common.bus.consumer import BatchHandler, ConsumedEvent
from contact_common.db import transaction
from contact_common.inbox import claim_many
from metrics_api.models import inbox_message

CONSUMER = "metrics-api"


def events_handler(session_factory: async_sessionmaker[AsyncSession]) -> BatchHandler:
    """The batch handler of both topics."""

    async def handle(batch: Sequence[ConsumedEvent]) -> None:
        async with transaction(session_factory) as session:
            await claim_many(
                session,
                inbox_message,
                consumer=CONSUMER,
                events=[(item.event.id, item.event.type) for item in batch],
            )

    return handle
