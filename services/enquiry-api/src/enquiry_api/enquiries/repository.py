"""All SQL about enquiries and their history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BindParameter,
    Column,
    Insert,
    Table,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.db import is_postgresql
from contact_common.events import CloudEvent
from contact_common.references import ReferenceIssuer
from enquiry_api import repository as shared
from enquiry_api.enquiries.models import Enquiry, EnquiryHistory, EnquiryReferenceCounter
from enquiry_api.models import outbox

# The function of migration 7c1e5b0a9d42: numbers from the year's sequence, created on first use;
# SQLite counts in EnquiryReferenceCounter.
REFERENCES = ReferenceIssuer(
    counter=EnquiryReferenceCounter.__table__,
    sequence=text(
        f"SELECT {EnquiryReferenceCounter.__table__.schema}"
        ".reserve_reference_numbers(:year, :count)"
    ),
)


async def reserve_reference_numbers(session: AsyncSession, *, year: int, count: int) -> list[int]:
    """Reserves `count` reference numbers of `year`, ascending, never issued before
    (contact_common.references)."""
    return await REFERENCES.reserve(session, year=year, count=count)


async def insert_opened(
    session: AsyncSession,
    *,
    enquiries: Sequence[Enquiry],
    history: Sequence[EnquiryHistory],
    events: list[CloudEvent],
) -> None:
    """Inserts new enquiries, their first history entries and their events' outbox rows.

    One enquiry (a POST) on PostgreSQL is one statement (data-modifying CTEs; the history's
    foreign key is checked at the statement's end, when the enquiries exist): one round trip
    rather than three, and no ORM unit of work, which was a third of a POST's CPU. A batch (a
    standby upload's follow-ups) takes three executemany statements instead, which SQLAlchemy
    splits under PostgreSQL's 32,767 parameters a statement. The objects stay out of the
    session: the caller only reads them.
    """
    enquiry_rows = [_row_of(Enquiry.__table__, enquiry) for enquiry in enquiries]
    history_rows = [_row_of(EnquiryHistory.__table__, entry) for entry in history]
    outbox_rows = outbox.rows_to_insert(session, events)
    if len(enquiry_rows) == 1 and is_postgresql(session):
        statement = _opening_statement(len(enquiry_rows), len(history_rows), len(outbox_rows))
        parameters = {
            f"{prefix}{position}_{column.key}": row.get(column.key)
            for prefix, table, rows in (
                ("e", Enquiry.__table__, enquiry_rows),
                ("h", EnquiryHistory.__table__, history_rows),
                ("o", outbox.table, outbox_rows),
            )
            for position, row in enumerate(rows)
            for column in _columns(table)
        }
        await session.execute(statement, parameters)
    else:
        await session.execute(insert(Enquiry.__table__), enquiry_rows)
        await session.execute(insert(EnquiryHistory.__table__), history_rows)
        await session.execute(insert(outbox.table), outbox_rows)


def _row_of(table: Table, instance: Enquiry | EnquiryHistory) -> dict[str, Any]:
    # Every column but a primary key the database numbers (the history's id), so the rows of a
    # batch have the same keys and the statement's parameters are always the same.
    return {column.key: getattr(instance, column.key) for column in _columns(table)}


@lru_cache(maxsize=8)
def _columns(table: Table) -> tuple[Column[Any], ...]:
    return tuple(column for column in table.columns if column is not table.autoincrement_column)


@lru_cache(maxsize=8)
def _opening_statement(enquiries: int, steps: int, events: int) -> Insert:
    """The INSERT of `enquiries` enquiries, `steps` history rows and `events` outbox rows.

    Built from bound parameters, once per shape, so SQLAlchemy's compiled cache serves it:
    compiling a statement with its values inline cost more CPU than the three statements saved.
    """

    def values(table: Table, count: int, prefix: str) -> list[dict[str, BindParameter[Any]]]:
        return [
            {c.key: bindparam(f"{prefix}{i}_{c.key}", type_=c.type) for c in _columns(table)}
            for i in range(count)
        ]

    def insert_of(table: Table, count: int, prefix: str) -> Insert:
        rows = values(table, count, prefix)
        return insert(table).values(rows[0] if count == 1 else rows)

    opened = insert_of(Enquiry.__table__, enquiries, "e").cte("opened")
    history = insert_of(EnquiryHistory.__table__, steps, "h").cte("history")
    return insert_of(outbox.table, events, "o").add_cte(opened).add_cte(history)


def add_history(session: AsyncSession, entry: EnquiryHistory) -> None:
    """Adds a step to an enquiry's audit history."""
    session.add(entry)


async def get(
    session: AsyncSession, enquiry_id: UUID, *, for_update: bool = False
) -> Enquiry | None:
    """The enquiry with this id; locked for the transaction if `for_update`."""
    statement = select(Enquiry).where(Enquiry.id == enquiry_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def get_by_reference(
    session: AsyncSession, reference: str, *, for_update: bool = False
) -> Enquiry | None:
    """The enquiry with this human reference; locked for the transaction if `for_update`."""
    statement = select(Enquiry).where(Enquiry.reference == reference)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def exists(session: AsyncSession, enquiry_id: UUID) -> bool:
    """True if there is an enquiry with this id."""
    statement = select(Enquiry.id).where(Enquiry.id == enquiry_id)
    return (await session.execute(statement)).first() is not None


async def history(session: AsyncSession, enquiry_id: UUID) -> Sequence[EnquiryHistory]:
    """The enquiry's audit history, oldest first."""
    statement = (
        select(EnquiryHistory)
        .where(EnquiryHistory.enquiry_id == enquiry_id)
        .order_by(EnquiryHistory.id)
    )
    return (await session.execute(statement)).scalars().all()


@dataclass(frozen=True, slots=True)
class EnquiryFilter:
    """What a listing is narrowed to."""

    channel: str | None = None
    service_area: str | None = None
    status: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    source: str | None = None
    service_codes: Sequence[str] | None = None
    references: Sequence[str] | None = None
    resolved: bool | None = None
    assignee_id: str | None = None
    customer_email: str | None = None
    customer_phone_digits: str | None = None
    customer_uprn: str | None = None


def _conditions(where: EnquiryFilter) -> list[Any]:
    """The WHERE conditions of a filter."""
    equal = (
        (Enquiry.channel, where.channel),
        (Enquiry.service_area, where.service_area),
        (Enquiry.status, where.status),
        (Enquiry.source, where.source),
        (Enquiry.assignee_id, where.assignee_id),
        (Enquiry.customer_phone_digits, where.customer_phone_digits),
        (Enquiry.customer_uprn, where.customer_uprn),
    )
    conditions: list[Any] = [column == value for column, value in equal if value]
    if where.customer_email:
        conditions.append(func.lower(Enquiry.customer_email) == where.customer_email.lower())
    if where.received_from:
        conditions.append(Enquiry.received_at >= where.received_from)
    if where.received_to:
        conditions.append(Enquiry.received_at < where.received_to)
    if where.service_codes:
        conditions.append(Enquiry.service_code.in_(where.service_codes))
    if where.references:
        conditions.append(Enquiry.reference.in_(where.references))
    if where.resolved is True:
        conditions.append(Enquiry.status == "resolved")
    elif where.resolved is False:
        conditions.append(Enquiry.status != "resolved")
    return conditions


async def list_page(
    session: AsyncSession,
    *,
    where: EnquiryFilter,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> Sequence[Enquiry]:
    """Up to `limit` enquiries, newest received first, after the (received_at, id) position."""
    statement = select(Enquiry).where(*_conditions(where))
    if after is not None:
        received_at, enquiry_id = after
        statement = statement.where(
            or_(
                Enquiry.received_at < received_at,
                and_(Enquiry.received_at == received_at, Enquiry.id < enquiry_id),
            )
        )
    statement = statement.order_by(Enquiry.received_at.desc(), Enquiry.id.desc()).limit(limit)
    return (await session.execute(statement)).scalars().all()


async def count(session: AsyncSession, *, where: EnquiryFilter) -> int:
    """How many enquiries match the filter, on every page."""
    statement = select(func.count()).select_from(Enquiry).where(*_conditions(where))
    return int((await session.execute(statement)).scalar_one())


async def find_for_erasure(
    session: AsyncSession,
    *,
    enquiry_ids: Sequence[UUID],
    email: str | None,
    phone_digits: str | None,
) -> Sequence[Enquiry]:
    """The enquiries of a customer, by id, email or phone, locked for the transaction."""
    conditions = [
        Enquiry.id.in_(enquiry_ids) if enquiry_ids else None,
        shared.email_is(Enquiry.customer_email, email),
        Enquiry.customer_phone_digits == phone_digits if phone_digits else None,
    ]
    return await shared.lock_any(session, Enquiry, order_by=Enquiry.id, conditions=conditions)


async def updates_between(
    session: AsyncSession, *, source: str, start: datetime, end: datetime, limit: int
) -> Sequence[tuple[EnquiryHistory, Enquiry]]:
    """Steps recorded in [start, end) on enquiries from `source`, oldest first."""
    statement = (
        select(EnquiryHistory, Enquiry)
        .join(Enquiry, Enquiry.id == EnquiryHistory.enquiry_id)
        .where(
            Enquiry.source == source,
            EnquiryHistory.recorded_at >= start,
            EnquiryHistory.recorded_at < end,
        )
        .order_by(EnquiryHistory.id)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in (await session.execute(statement)).all()]


async def existing_ids(session: AsyncSession, enquiry_ids: Sequence[UUID]) -> set[UUID]:
    """Which of these enquiry ids exist."""
    if not enquiry_ids:
        return set()
    statement = select(Enquiry.id).where(Enquiry.id.in_(set(enquiry_ids)))
    return set((await session.execute(statement)).scalars().all())


_STEPS_AFTER_OPENING = ("acknowledged", "assigned", "responded", "resolved", "reopened")


async def first_step_at(session: AsyncSession, enquiry_id: UUID) -> datetime | None:
    """When the first lifecycle step after its opening was taken on the enquiry, if one was."""
    statement = select(func.min(EnquiryHistory.occurred_at)).where(
        EnquiryHistory.enquiry_id == enquiry_id,
        EnquiryHistory.action.in_(_STEPS_AFTER_OPENING),
    )
    return (await session.execute(statement)).scalar_one_or_none()
