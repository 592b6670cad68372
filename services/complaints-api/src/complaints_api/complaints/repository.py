"""All SQL of complaints: reading, locking, listing, receiving, and issuing references."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Column,
    Insert,
    Select,
    Table,
    and_,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from complaints_api.complaints.domain import Status
from complaints_api.complaints.models import (
    Complaint,
    ComplaintHistory,
    ComplaintStageRecord,
    ReferenceCounter,
)
from complaints_api.models import outbox
from contact_common.db import is_postgresql
from contact_common.events import Channel, CloudEvent, ComplaintOutcome, ComplaintStage
from contact_common.references import ReferenceIssuer

# The function of migration 86a04f7b117c: the year's next number from its sequence, which it
# creates on the year's first complaint; SQLite counts in ReferenceCounter.
REFERENCES = ReferenceIssuer(
    counter=ReferenceCounter.__table__,
    sequence=text(f"SELECT {Complaint.__table__.schema}.next_reference_number(:year)"),
)


async def next_reference_number(session: AsyncSession, *, year: int) -> int:
    """The next reference number of `year`, never issued before (contact_common.references)."""
    [number] = await REFERENCES.reserve(session, year=year)
    return number


def _with_records(statement: Select[Complaint]) -> Select[Complaint]:
    return statement.options(selectinload(Complaint.stages), selectinload(Complaint.history))


async def get(session: AsyncSession, complaint_id: uuid.UUID) -> Complaint | None:
    """A complaint with its stages and history."""
    statement = _with_records(select(Complaint).where(Complaint.id == complaint_id))
    return (await session.execute(statement)).scalar_one_or_none()


async def get_for_update(session: AsyncSession, complaint_id: uuid.UUID) -> Complaint | None:
    """A complaint locked for this transaction: a second writer waits, then sees the change."""
    statement = _with_records(
        select(Complaint).where(Complaint.id == complaint_id).with_for_update(of=Complaint)
    ).execution_options(populate_existing=True)
    return (await session.execute(statement)).scalar_one_or_none()


@dataclass(frozen=True)
class ComplaintFilter:
    """What a list of complaints may be narrowed by."""

    stage: ComplaintStage | None = None
    status: Status | None = None
    outcome: ComplaintOutcome | None = None
    service_area: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    reference: str | None = None
    channel: Channel | None = None
    officer: str | None = None
    customer_email: str | None = None
    # The last ten digits of a phone number: +44 7700 900123 finds 07700 900123.
    customer_phone_digits: str | None = None
    customer_uprn: str | None = None


# The digits of a stored phone number: what separates them removed, in SQL both databases speak.
_PHONE_DIGITS: Any = Complaint.customer_phone
for _separator in (" ", "-", "(", ")", ".", "+"):
    _PHONE_DIGITS = func.replace(_PHONE_DIGITS, _separator, "")


def _conditions(where: ComplaintFilter) -> list[Any]:
    """The WHERE conditions of a filter."""
    equal = (
        (Complaint.stage, where.stage),
        (Complaint.status, where.status),
        (Complaint.outcome, where.outcome),
        (Complaint.service_area, where.service_area),
        (Complaint.reference, where.reference),
        (Complaint.channel, where.channel),
        (Complaint.customer_uprn, where.customer_uprn),
    )
    conditions: list[Any] = [column == value for column, value in equal if value is not None]
    if where.received_from is not None:
        conditions.append(Complaint.received_at >= where.received_from)
    if where.received_to is not None:
        conditions.append(Complaint.received_at < where.received_to)
    if where.customer_email is not None:
        conditions.append(func.lower(Complaint.customer_email) == where.customer_email.lower())
    if where.customer_phone_digits is not None:
        conditions.append(_PHONE_DIGITS.like(f"%{where.customer_phone_digits}"))
    if where.officer is not None:
        conditions.append(
            exists().where(
                ComplaintHistory.complaint_id == Complaint.id,
                ComplaintHistory.officer == where.officer,
            )
        )
    return conditions


async def count(session: AsyncSession, *, where: ComplaintFilter) -> int:
    """How many complaints match the filter, on every page."""
    statement = select(func.count()).select_from(Complaint).where(*_conditions(where))
    return int((await session.execute(statement)).scalar_one())


async def list_page(
    session: AsyncSession,
    *,
    where: ComplaintFilter,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Complaint]:
    """Up to `limit` + 1 complaints, newest received first, after the cursor position."""
    statement = select(Complaint).options(selectinload(Complaint.stages)).where(*_conditions(where))
    if after is not None:
        received_at, complaint_id = after
        statement = statement.where(
            or_(
                Complaint.received_at < received_at,
                and_(Complaint.received_at == received_at, Complaint.id < complaint_id),
            )
        )
    statement = statement.order_by(Complaint.received_at.desc(), Complaint.id.desc()).limit(
        limit + 1
    )
    return (await session.execute(statement)).scalars().all()


async def insert_received(
    session: AsyncSession, *, complaint: Complaint, event: CloudEvent
) -> None:
    """Inserts a new complaint, its first stage and history entry, and its event's outbox row.

    On PostgreSQL one statement (data-modifying CTEs; the foreign keys are checked at the
    statement's end, when the complaint exists): one round trip rather than four, and no ORM
    unit of work. SQLite, which has no data-modifying CTEs, runs the four inserts. The objects
    stay out of the session: the caller only reads them.
    """
    rows = _received_rows(session, complaint, event)
    if is_postgresql(session):
        parameters = {
            f"{prefix}_{column.key}": row.get(column.key)
            for prefix, (table, row) in rows.items()
            for column in _columns(table)
        }
        await session.execute(_received_statement(), parameters)
    else:
        for table, row in rows.values():
            await session.execute(insert(table), [row])


def _received_rows(
    session: AsyncSession, complaint: Complaint, event: CloudEvent
) -> dict[str, tuple[Table, dict[str, Any]]]:
    """The rows of a new complaint by the prefix of their parameters in `_received_statement`."""
    [stage] = complaint.stages
    [step] = complaint.history
    return {
        # A version_id_col counts from 1, as the ORM's insert would have set it.
        "c": (Complaint.__table__, {**_row_of(Complaint.__table__, complaint), "version": 1}),
        # Outside the session the relationship sets no foreign key: the rows take it here.
        "s": (
            ComplaintStageRecord.__table__,
            {**_row_of(ComplaintStageRecord.__table__, stage), "complaint_id": complaint.id},
        ),
        "h": (
            ComplaintHistory.__table__,
            {**_row_of(ComplaintHistory.__table__, step), "complaint_id": complaint.id},
        ),
        "o": (outbox.table, outbox.rows_to_insert(session, [event])[0]),
    }


def _row_of(table: Table, instance: object) -> dict[str, Any]:
    return {column.key: getattr(instance, column.key) for column in _columns(table)}


@lru_cache(maxsize=8)
def _columns(table: Table) -> tuple[Column[Any], ...]:
    # Every column but a primary key the database numbers (the history's and outbox's ids).
    # Table.autoincrement_column is not cached, hence this.
    return tuple(column for column in table.columns if column is not table.autoincrement_column)


@lru_cache(maxsize=1)
def _received_statement() -> Insert:
    """The INSERT of a complaint, its first stage and history entry, and one outbox row.

    Built from bound parameters, once, so SQLAlchemy's compiled cache serves it: enquiry-api
    found that compiling a statement with its values inline cost more CPU than the round trips
    it saved.
    """

    def insert_of(table: Table, prefix: str) -> Insert:
        values = {c.key: bindparam(f"{prefix}_{c.key}", type_=c.type) for c in _columns(table)}
        return insert(table).values(values)

    received = insert_of(Complaint.__table__, "c").cte("received")
    stage = insert_of(ComplaintStageRecord.__table__, "s").cte("first_stage")
    history = insert_of(ComplaintHistory.__table__, "h").cte("first_step")
    return insert_of(outbox.table, "o").add_cte(received, stage, history)


async def flush(session: AsyncSession) -> None:
    """Writes pending changes (history ids, the updated complaint) within the transaction."""
    await session.flush()
