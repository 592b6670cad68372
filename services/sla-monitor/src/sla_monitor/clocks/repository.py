"""All the SQL about clocks: batch reads under lock, bulk writes, the timers' queries.

The consumer's batch statements have a PostgreSQL form that takes one array per column
(`unnest`, `= ANY`): the same prepared statement whatever the batch's size, no SQL compiled
per batch and no per-value Python on the way in. SQLite (the embedded default) gets the
portable statements. The batch's inbox claims and outbox rows are the shared ones
(`contact_common.inbox.claim_many`, `Outbox.add_many`), which take the same form.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Row,
    Table,
    TextClause,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.db import insert_for, is_postgresql, postgresql_arrays, postgresql_name
from contact_common.events import Channel, ComplaintStage, ContactType
from sla_monitor.clocks.domain import SlaClock, Status, Step
from sla_monitor.clocks.models import clock, held_step

_MUTABLE = (
    "due_at",
    "at_risk_at",
    "status",
    "stopped_at",
    "breached_at",
    "flagged_at",
    "at_risk_published",
    "extended_at",
    "breach_withdrawn_at",
    "channel",
    "service_area",
    "started_at",
    "revision",
)


@dataclass(frozen=True, slots=True)
class Deadline:
    """A moment a timer must act on: a clock's deadline or its at-risk instant."""

    at: datetime
    clock_id: UUID
    partition: int


_CLOCK_COLUMNS = tuple(column.name for column in clock.columns)
_HELD_COLUMNS = tuple(column.name for column in held_step.columns)


def _columns(rows: Sequence[dict[str, Any]], names: Sequence[str]) -> dict[str, list[Any]]:
    """Rows turned into one list per column (the arrays `unnest` takes)."""
    return {name: [row[name] for row in rows] for name in names}


def _unnest_insert(table: Table, names: Sequence[str]) -> TextClause:
    return text(
        f"INSERT INTO {postgresql_name(table)} ({', '.join(names)}) "
        f"SELECT * FROM unnest({postgresql_arrays(table, names)}) ON CONFLICT DO NOTHING"
    )


_LOCK_CLOCKS = text(
    f"SELECT {', '.join(_CLOCK_COLUMNS)} FROM {postgresql_name(clock)} "
    "WHERE subject = ANY(CAST(:subjects AS UUID[])) ORDER BY id FOR UPDATE"
)
_HELD_OF = text(
    f"SELECT {', '.join(_HELD_COLUMNS)} FROM {postgresql_name(held_step)} "
    "WHERE subject = ANY(CAST(:subjects AS UUID[]))"
)
_INSERT_CLOCKS = _unnest_insert(clock, _CLOCK_COLUMNS)
_INSERT_HELD = _unnest_insert(held_step, _HELD_COLUMNS)
_UPDATE_CLOCKS = text(
    f"UPDATE {postgresql_name(clock)} AS clock SET "
    + ", ".join(f"{name} = changed.{name}" for name in _MUTABLE)
    + f" FROM unnest({postgresql_arrays(clock, ('id', *_MUTABLE))}) "
    + f"AS changed (id, {', '.join(_MUTABLE)}) WHERE clock.id = changed.id"
)


def _facts_from_row(row: Row[Any]) -> dict[str, Any]:
    """The contact's facts on a clock's or a held step's row, as the domain holds them."""
    return {
        "contact_type": ContactType(row.contact_type),
        "channel": Channel.received(row.channel),  # maybe a newer producer's
        "service_area": row.service_area,
        "stage": ComplaintStage(row.stage) if row.stage else None,
    }


def _facts_row(item: SlaClock | Step) -> dict[str, Any]:
    """The columns of the contact's facts of a clock or a step (as _facts_from_row reads them)."""
    return {
        "contact_type": item.contact_type.value,
        "channel": item.channel.value,
        "service_area": item.service_area,
        "stage": item.stage.value if item.stage else None,
    }


def clock_from_row(row: Row[Any]) -> SlaClock:
    """A domain clock from a clock row (its columns are the clock's fields, enums by value)."""
    return SlaClock(**{**row._asdict(), **_facts_from_row(row), "status": Status(row.status)})


def _clock_row(item: SlaClock) -> dict[str, Any]:
    values = {name: getattr(item, name) for name in _CLOCK_COLUMNS}
    return {**values, **_facts_row(item), "status": item.status.value}


def _step_from_row(row: Row[Any]) -> Step:
    return Step(
        event_id=row.event_id,
        type=row.event_type,
        subject=row.subject,
        occurred_at=row.occurred_at,
        **_facts_from_row(row),
        sequence=row.sequence,
        working_days=row.working_days,
    )


# -- the consumer's batch --------------------------------------------------------------------------


async def lock_clocks_of(session: AsyncSession, subjects: Sequence[UUID]) -> list[SlaClock]:
    """The clocks of these contacts, locked for this transaction (in id order: no deadlocks)."""
    if not subjects:
        return []
    if is_postgresql(session):
        result = await session.execute(_LOCK_CLOCKS, {"subjects": list(subjects)})
    else:
        result = await session.execute(
            select(clock)
            .where(clock.c.subject.in_(subjects))
            .order_by(clock.c.id)
            .with_for_update()
        )
    return [clock_from_row(row) for row in result]


async def held_steps_of(session: AsyncSession, subjects: Sequence[UUID]) -> list[Step]:
    """The steps kept for these contacts, waiting for a clock to start."""
    if not subjects:
        return []
    if is_postgresql(session):
        result = await session.execute(_HELD_OF, {"subjects": list(subjects)})
    else:
        result = await session.execute(select(held_step).where(held_step.c.subject.in_(subjects)))
    return [_step_from_row(row) for row in result]


async def insert_clocks(session: AsyncSession, clocks: Sequence[SlaClock]) -> None:
    """Adds new clocks in one statement; one already there is left as it is."""
    if not clocks:
        return
    rows = [_clock_row(c) for c in clocks]
    if is_postgresql(session):
        await session.execute(_INSERT_CLOCKS, _columns(rows, _CLOCK_COLUMNS))
    else:
        await session.execute(insert_for(session, clock).on_conflict_do_nothing(), rows)


async def update_clocks(session: AsyncSession, clocks: Iterable[SlaClock]) -> None:
    """Writes the changed state of clocks locked by this transaction."""
    rows = [_clock_row(c) for c in clocks]
    if not rows:
        return
    if is_postgresql(session):
        await session.execute(_UPDATE_CLOCKS, _columns(rows, ("id", *_MUTABLE)))
        return
    statement = (
        update(clock)
        .where(clock.c.id == bindparam("b_id"))
        .values({name: bindparam(f"b_{name}") for name in _MUTABLE})
    )
    await session.execute(
        statement, [{f"b_{name}": value for name, value in row.items()} for row in rows]
    )


async def insert_held(session: AsyncSession, steps: Sequence[Step]) -> None:
    """Keeps steps that no running clock took."""
    if not steps:
        return
    rows = [
        {
            "event_id": s.event_id,
            "subject": s.subject,
            "event_type": s.type,
            "occurred_at": s.occurred_at,
            **_facts_row(s),
            "sequence": s.sequence,
            "working_days": s.working_days,
        }
        for s in steps
    ]
    if is_postgresql(session):
        await session.execute(_INSERT_HELD, _columns(rows, _HELD_COLUMNS))
    else:
        await session.execute(insert_for(session, held_step).on_conflict_do_nothing(), rows)


# -- the timers ------------------------------------------------------------------------------------


async def deadlines_until(
    session: AsyncSession, *, partitions: Sequence[int], until: datetime, limit: int
) -> list[Deadline]:
    """Running clocks of these partitions due by `until`, earliest first."""
    return await _due_by(session, clock.c.due_at, partitions, until=until, limit=limit)


async def at_risk_until(
    session: AsyncSession, *, partitions: Sequence[int], until: datetime, limit: int
) -> list[Deadline]:
    """Running clocks of these partitions at risk by `until` and not yet announced."""
    return await _due_by(
        session, clock.c.at_risk_at, partitions, until=until, limit=limit, unannounced=True
    )


async def _due_by(
    session: AsyncSession,
    moment: ColumnElement[datetime],
    partitions: Sequence[int],
    *,
    until: datetime,
    limit: int,
    unannounced: bool = False,
) -> list[Deadline]:
    """Running clocks of these partitions whose `moment` comes by `until`, earliest first;
    `unannounced` keeps those whose at-risk notice is still to publish."""
    if not partitions:
        return []
    conditions = [
        clock.c.status == Status.pending.value,
        clock.c.partition.in_(partitions),
        moment <= until,
    ]
    if unannounced:
        conditions.append(clock.c.at_risk_published.is_(False))
    result = await session.execute(
        select(moment, clock.c.id, clock.c.partition)
        .where(*conditions)
        .order_by(moment)
        .limit(limit)
    )
    return [Deadline(at, clock_id, partition) for at, clock_id, partition in result]


async def flag_breaches(
    session: AsyncSession, *, ids: Sequence[UUID], now: datetime
) -> list[SlaClock]:
    """Marks these clocks breached if still running past their deadline; returns those it marked.

    The condition is the guard against doing it twice: a clock stopped, extended or flagged
    meanwhile (by the consumer or another instance) no longer matches. Rows the consumer holds
    are skipped rather than waited for; the caller tries them again.
    """
    if not ids:
        return []
    candidates = (
        select(clock.c.id)
        .where(
            clock.c.id.in_(ids),
            clock.c.status == Status.pending.value,
            clock.c.due_at < now,
        )
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    result = await session.execute(
        update(clock)
        .where(clock.c.id.in_(candidates))
        .values(status=Status.breached.value, breached_at=clock.c.due_at, flagged_at=now)
        .returning(*clock.c)
    )
    return [clock_from_row(row) for row in result]


async def flag_at_risk(
    session: AsyncSession, *, ids: Sequence[UUID], now: datetime
) -> list[SlaClock]:
    """Marks these clocks' at-risk moment announced if it has come and the deadline has not."""
    if not ids:
        return []
    candidates = (
        select(clock.c.id)
        .where(
            clock.c.id.in_(ids),
            clock.c.status == Status.pending.value,
            clock.c.at_risk_published.is_(False),
            clock.c.at_risk_at <= now,
            clock.c.due_at >= now,
        )
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    result = await session.execute(
        update(clock)
        .where(clock.c.id.in_(candidates))
        .values(at_risk_published=True)
        .returning(*clock.c)
    )
    return [clock_from_row(row) for row in result]


async def still_running(session: AsyncSession, *, ids: Sequence[UUID]) -> list[SlaClock]:
    """Those of these clocks that are still running (a timer that found them busy retries)."""
    if not ids:
        return []
    result = await session.execute(
        select(clock).where(clock.c.id.in_(ids), clock.c.status == Status.pending.value)
    )
    return [clock_from_row(row) for row in result]


# -- replay ----------------------------------------------------------------------------------------


async def forget_clocks(session: AsyncSession) -> None:
    """Empties the clocks and the held steps (a replay starts from nothing)."""
    await session.execute(delete(clock))
    await session.execute(delete(held_step))


async def flag_overdue(session: AsyncSession, *, now: datetime) -> int:
    """Marks every clock running past its deadline breached, without notices (a replay)."""
    result = await session.execute(
        update(clock)
        .where(clock.c.status == Status.pending.value, clock.c.due_at < now)
        .values(
            status=Status.breached.value,
            breached_at=clock.c.due_at,
            flagged_at=now,
            at_risk_published=true(),
        )
    )
    await session.execute(
        update(clock)
        .where(
            clock.c.status == Status.pending.value,
            clock.c.at_risk_published.is_(False),
            clock.c.at_risk_at <= now,
        )
        .values(at_risk_published=True)
    )
    # An UPDATE runs on a cursor; the generic Result in execute()'s signature has no rowcount.
    return cast(CursorResult[Any], result).rowcount or 0


# -- the API ---------------------------------------------------------------------------------------


async def clocks_of(session: AsyncSession, subject: UUID) -> list[SlaClock]:
    """A contact's clocks, in the order they started."""
    result = await session.execute(
        select(clock)
        .where(clock.c.subject == subject)
        .order_by(clock.c.started_at, clock.c.commitment, clock.c.sequence)
    )
    return [clock_from_row(row) for row in result]


async def breaches(
    session: AsyncSession,
    *,
    commitment: str | None,
    service_area: str | None,
    open_only: bool,
    breached_from: datetime | None,
    breached_before: datetime | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[SlaClock]:
    """Breached clocks, latest breach first, after a cursor position."""
    statement = select(clock).where(clock.c.status == Status.breached.value)
    if commitment is not None:
        statement = statement.where(clock.c.commitment == commitment)
    if service_area is not None:
        statement = statement.where(clock.c.service_area == service_area)
    if open_only:
        statement = statement.where(clock.c.stopped_at.is_(None))
    if breached_from is not None:
        statement = statement.where(clock.c.breached_at >= breached_from)
    if breached_before is not None:
        statement = statement.where(clock.c.breached_at < breached_before)
    if after is not None:
        at, clock_id = after
        statement = statement.where(
            or_(
                clock.c.breached_at < at,
                and_(clock.c.breached_at == at, clock.c.id < clock_id),
            )
        )
    statement = statement.order_by(clock.c.breached_at.desc(), clock.c.id.desc()).limit(limit)
    return [clock_from_row(row) for row in await session.execute(statement)]


async def count_clocks(session: AsyncSession) -> int:
    """How many clocks there are (for the replay's summary)."""
    return int(await session.scalar(select(func.count()).select_from(clock)) or 0)
