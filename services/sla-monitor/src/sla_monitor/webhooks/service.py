"""Webhook subscriptions, and the deliveries made in the transaction of each sla.* event.

`enqueue` runs in the caller's transaction, the one that writes the clock's change and its
event to the outbox: a delivery exists if and only if its event does (docs/decisions.md).
Functions never commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.db import after_commit
from contact_common.events import CloudEvent
from sla_monitor.webhooks import repository
from sla_monitor.webhooks.domain import (
    WebhookNotFound,
    check_secret,
    check_url,
    delivery_id,
    matches,
    new_secret,
    payload_of,
)
from sla_monitor.worklist import repository as worklist

# The wakes of this process's delivery workers, called after a commit that added deliveries.
_workers: list[Callable[[], None]] = []


def subscribe_worker(wake: Callable[[], None]) -> None:
    """Calls `wake` after each commit that added deliveries (a worker's wake)."""
    _workers.append(wake)


def unsubscribe_worker(wake: Callable[[], None]) -> None:
    """Stops calling `wake`."""
    if wake in _workers:
        _workers.remove(wake)


def _wake_workers() -> None:
    for wake in list(_workers):
        wake()


def _contact_of(event: CloudEvent) -> UUID | None:
    value = getattr(event.data, "contact_id", None)
    return value if isinstance(value, UUID) else None


async def enqueue(session: AsyncSession, *, events: Sequence[CloudEvent], now: datetime) -> int:
    """Adds a delivery of each event for each subscription that wants it (a repeat is ignored);
    how many were asked for."""
    if not events:
        return 0
    subscriptions = await repository.matchable_subscriptions(session)
    if not subscriptions:
        return 0
    owners = await worklist.owners_of(
        session, [c for e in events if (c := _contact_of(e)) is not None]
    )
    rows = []
    for event in events:
        area = getattr(event.data, "service_area", None)
        wanted = [s for s in subscriptions if matches(s, event_type=event.type, service_area=area)]
        if not wanted:
            continue
        contact = _contact_of(event)
        owner = owners.get(contact) if contact is not None else None
        payload = payload_of(event, reference=owner.reference if owner else None)
        rows += [
            {
                "id": delivery_id(s.id, event.id),
                "subscription_id": s.id,
                "event_id": event.id,
                "event_type": event.type,
                "payload": payload,
                "status": "pending",
                "attempts": 0,
                "created_at": now,
                "retry_from": now,
                "next_attempt_at": now,
            }
            for s in wanted
        ]
    if rows:
        await repository.insert_deliveries(session, rows)
        after_commit(session, _wake_workers)
    return len(rows)


async def create_subscription(
    session: AsyncSession,
    *,
    url: str,
    event_types: Sequence[str],
    service_areas: Sequence[str],
    description: str | None,
    secret: str | None,
    allow_private: bool,
    now: datetime,
) -> dict[str, Any]:
    """Makes a subscription; the row returned holds the secret, to be shown this once."""
    row = {
        "id": uuid4(),
        "url": check_url(url, allow_private=allow_private),
        "description": description,
        "event_types": sorted(set(event_types)),
        "service_areas": sorted(set(service_areas)),
        "secret": check_secret(secret) if secret is not None else new_secret(),
        "created_at": now,
    }
    await repository.insert_subscription(session, row)
    return row


async def list_subscriptions(session: AsyncSession) -> Sequence[Any]:
    """Every subscription, without secrets."""
    return await repository.subscriptions(session)


async def get_subscription(session: AsyncSession, *, subscription_id: UUID) -> Any:
    """One subscription, without its secret."""
    row = await repository.subscription(session, subscription_id)
    if row is None:
        raise WebhookNotFound(f"no webhook subscription {subscription_id}")
    return row


async def remove_subscription(session: AsyncSession, *, subscription_id: UUID) -> None:
    """Removes a subscription; its pending deliveries are not sent."""
    if not await repository.delete_subscription(session, subscription_id):
        raise WebhookNotFound(f"no webhook subscription {subscription_id}")


async def list_deliveries(
    session: AsyncSession, *, subscription_id: UUID, status: str | None, limit: int
) -> list[tuple[Any, list[Any]]]:
    """A subscription's latest deliveries, each with its attempts."""
    await get_subscription(session, subscription_id=subscription_id)
    deliveries = await repository.deliveries_of(
        session, subscription_id=subscription_id, status=status, limit=limit
    )
    attempts: dict[UUID, list[Any]] = {d.id: [] for d in deliveries}
    for attempt in await repository.attempts_of(session, list(attempts)):
        attempts[attempt.delivery_id].append(attempt)
    return [(d, attempts[d.id]) for d in deliveries]


async def redeliver(
    session: AsyncSession, *, subscription_id: UUID, delivery_id: UUID, now: datetime
) -> tuple[Any, list[Any]]:
    """Sends a delivery again, with the same webhook-id, and retries it for a new window."""
    found = await repository.schedule_again(
        session, subscription_id=subscription_id, delivery_id=delivery_id, now=now
    )
    if not found:
        raise WebhookNotFound(f"no delivery {delivery_id} of subscription {subscription_id}")
    after_commit(session, _wake_workers)
    row = await repository.delivery(
        session, subscription_id=subscription_id, delivery_id=delivery_id
    )
    return row, list(await repository.attempts_of(session, [delivery_id]))
