"""The SQL of webhooks: subscriptions, deliveries claimed by the worker, attempts recorded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import CursorResult, Row, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.db import insert_for
from sla_monitor.webhooks.domain import Subscription
from sla_monitor.webhooks.models import webhook_attempt, webhook_delivery, webhook_subscription

_PUBLIC_SUBSCRIPTION = [c for c in webhook_subscription.c if c.name != "secret"]


async def insert_subscription(session: AsyncSession, row: dict[str, Any]) -> None:
    """Adds a subscription."""
    await session.execute(insert(webhook_subscription), [row])


async def subscriptions(session: AsyncSession) -> Sequence[Row[Any]]:
    """Every subscription, oldest first, without its secret."""
    query = select(*_PUBLIC_SUBSCRIPTION).order_by(
        webhook_subscription.c.created_at, webhook_subscription.c.id
    )
    return (await session.execute(query)).all()


async def subscription(session: AsyncSession, subscription_id: UUID) -> Row[Any] | None:
    """One subscription without its secret, or None."""
    query = select(*_PUBLIC_SUBSCRIPTION).where(webhook_subscription.c.id == subscription_id)
    return (await session.execute(query)).first()


async def delete_subscription(session: AsyncSession, subscription_id: UUID) -> bool:
    """Removes a subscription and its deliveries (their attempts go with them); False if none."""
    deleted = await session.execute(
        delete(webhook_subscription).where(webhook_subscription.c.id == subscription_id)
    )
    # A DELETE or UPDATE runs on a cursor; execute() is typed to give a Result, without rowcount.
    if not cast(CursorResult[Any], deleted).rowcount:
        return False
    await session.execute(
        delete(webhook_attempt).where(
            webhook_attempt.c.delivery_id.in_(
                select(webhook_delivery.c.id).where(
                    webhook_delivery.c.subscription_id == subscription_id
                )
            )
        )
    )
    await session.execute(
        delete(webhook_delivery).where(webhook_delivery.c.subscription_id == subscription_id)
    )
    return True


async def matchable_subscriptions(session: AsyncSession) -> list[Subscription]:
    """What decides which subscriptions an event goes to (one small read per transaction)."""
    rows = await session.execute(
        select(
            webhook_subscription.c.id,
            webhook_subscription.c.event_types,
            webhook_subscription.c.service_areas,
        )
    )
    return [Subscription(row.id, row.event_types, row.service_areas) for row in rows]


async def insert_deliveries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Adds deliveries; one already made for the same (subscription, event) is left as it is."""
    if not rows:
        return
    statement = insert_for(session, webhook_delivery)
    await session.execute(statement.on_conflict_do_nothing(), rows)


async def claim_due(
    session: AsyncSession, *, now: datetime, lease_until: datetime, limit: int
) -> Sequence[Row[*tuple[Any, ...]]]:
    """Pending deliveries due by `now`, with their subscription's URL and secret, leased until
    `lease_until` so no other worker takes them meanwhile (a crash hands them back then)."""
    d, s = webhook_delivery, webhook_subscription
    query = (
        select(d.c.id, d.c.payload, d.c.attempts, d.c.retry_from, s.c.url, s.c.secret)
        .join(s, s.c.id == d.c.subscription_id)
        .where(d.c.status == "pending", d.c.next_attempt_at <= now)
        .order_by(d.c.next_attempt_at)
        .limit(limit)
        .with_for_update(of=d, skip_locked=True)
    )
    rows = (await session.execute(query)).all()
    if rows:
        await session.execute(
            update(d).where(d.c.id.in_([r.id for r in rows])).values(next_attempt_at=lease_until)
        )
    return rows


async def record_attempt(
    session: AsyncSession, *, attempt: dict[str, Any], outcome: dict[str, Any]
) -> None:
    """Writes an attempt and the delivery's state after it (if the delivery still exists)."""
    delivery_id = attempt["delivery_id"]
    changed = await session.execute(
        update(webhook_delivery)
        .where(webhook_delivery.c.id == delivery_id)
        .values(attempts=webhook_delivery.c.attempts + 1, **outcome)
    )
    if cast(CursorResult[Any], changed).rowcount:
        await session.execute(insert(webhook_attempt), [attempt])


async def pending_count(session: AsyncSession) -> int:
    """Deliveries still to send (of subscriptions that exist)."""
    d, s = webhook_delivery, webhook_subscription
    query = (
        select(func.count())
        .select_from(d.join(s, s.c.id == d.c.subscription_id))
        .where(d.c.status == "pending")
    )
    return int((await session.execute(query)).scalar_one())


async def deliveries_of(
    session: AsyncSession, *, subscription_id: UUID, status: str | None, limit: int
) -> Sequence[Row[Any]]:
    """A subscription's deliveries, latest first."""
    d = webhook_delivery
    query = (
        select(*[c for c in d.c if c.name != "payload"])
        .where(d.c.subscription_id == subscription_id)
        .order_by(d.c.created_at.desc(), d.c.id)
        .limit(limit)
    )
    if status is not None:
        query = query.where(d.c.status == status)
    return (await session.execute(query)).all()


async def attempts_of(session: AsyncSession, delivery_ids: Sequence[UUID]) -> Sequence[Row[Any]]:
    """The attempts of these deliveries, in the order made."""
    if not delivery_ids:
        return []
    query = (
        select(webhook_attempt)
        .where(webhook_attempt.c.delivery_id.in_(delivery_ids))
        .order_by(webhook_attempt.c.id)
    )
    return (await session.execute(query)).all()


async def delivery(
    session: AsyncSession, *, subscription_id: UUID, delivery_id: UUID
) -> Row[Any] | None:
    """One delivery of a subscription, or None."""
    d = webhook_delivery
    query = select(*[c for c in d.c if c.name != "payload"]).where(
        d.c.id == delivery_id, d.c.subscription_id == subscription_id
    )
    return (await session.execute(query)).first()


async def schedule_again(
    session: AsyncSession, *, subscription_id: UUID, delivery_id: UUID, now: datetime
) -> bool:
    """Makes a delivery pending and due now, its retry window starting again; False if none."""
    d = webhook_delivery
    changed = await session.execute(
        update(d)
        .where(d.c.id == delivery_id, d.c.subscription_id == subscription_id)
        .values(status="pending", next_attempt_at=now, retry_from=now, failed_at=None)
    )
    return bool(cast(CursorResult[Any], changed).rowcount)
