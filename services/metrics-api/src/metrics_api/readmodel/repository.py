"""All SQL that writes the read models: counted-once steps, counter upserts, open breaches."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, Table, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from metrics_api.readmodel.domain import Tally
from metrics_api.readmodel.models import (
    MONTHLY,
    CallDay,
    CallWaitDay,
    ComplaintDay,
    CountedClock,
    CountedStep,
    EnquiryDay,
    FeedbackDay,
    OpenBreach,
    SlaDay,
    VisitDay,
)

COUNTER_TABLES: dict[str, Table] = {
    model.__tablename__: model.__table__  # type: ignore[misc]
    for model in (
        EnquiryDay,
        CallDay,
        CallWaitDay,
        VisitDay,
        FeedbackDay,
        ComplaintDay,
        SlaDay,
    )
}


def _insert(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _greatest(session: AsyncSession, left: Any, right: Any) -> Any:
    # PostgreSQL's greatest() is SQLite's two-argument max().
    if session.get_bind().dialect.name == "postgresql":
        return func.greatest(left, right)
    return func.max(left, right)


async def claim_steps(
    session: AsyncSession, subject_id: UUID, steps: Iterable[str], *, occurred_at: datetime
) -> set[str]:
    """Records steps of a contact as counted; returns those not counted before."""
    rows = [{"subject_id": subject_id, "step": s, "occurred_at": occurred_at} for s in steps]
    if not rows:
        return set()
    table = CountedStep.__table__
    statement = (
        _insert(session)(table).values(rows).on_conflict_do_nothing().returning(table.c.step)
    )
    return set((await session.execute(statement)).scalars())


async def step_counted(session: AsyncSession, subject_id: UUID, step: str) -> datetime | None:
    """When a step of a contact happened, if it has been counted."""
    return await session.scalar(
        select(CountedStep.occurred_at).where(
            CountedStep.subject_id == subject_id, CountedStep.step == step
        )
    )


async def flush(session: AsyncSession, tally: Tally) -> None:
    """Adds a batch's counter changes to the daily tables and their monthly roll-ups: one
    multi-row upsert per table."""
    for name in tally.tables():
        rows = tally.rows(name)
        await _upsert(session, COUNTER_TABLES[name], rows)
        # Every key leads with its local date: the month's key is that date's first day.
        monthly = Tally()
        for key, sums, peaks in rows:
            month_key = (key[0].replace(day=1), *key[1:])  # type: ignore[attr-defined]
            monthly.add(name, month_key, **sums)
            for column, value in peaks.items():
                monthly.peak(name, month_key, column, value)
        await _upsert(session, MONTHLY[name], monthly.rows(name))


async def _upsert(
    session: AsyncSession,
    table: Table,
    rows: list[tuple[tuple[object, ...], dict[str, float], dict[str, float]]],
) -> None:
    keys = [c.name for c in table.primary_key.columns]
    values = [c.name for c in table.columns if not c.primary_key]
    records = []
    for key, sums, peaks in rows:
        record: dict[str, Any] = dict(zip(keys, key, strict=True))
        for column in values:
            record[column] = (
                peaks.get(column, 0) if column.endswith("_max") else sums.get(column, 0)
            )
        records.append(record)
    statement = _insert(session)(table).values(records)
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=keys,
        set_={
            column: (
                _greatest(session, table.c[column], excluded[column])
                if column.endswith("_max")
                else table.c[column] + excluded[column]
            )
            for column in values
        },
    )
    await session.execute(statement)


async def counted_clock(session: AsyncSession, clock_id: UUID) -> Row[Any] | None:
    """What was counted for an SLA clock (outcome, due_on, commitment, channel, service_area)."""
    # Core, not session.get: the row changes by core statements within one batch.
    table = CountedClock.__table__
    return (await session.execute(select(table).where(table.c.clock_id == clock_id))).first()


async def count_clock(
    session: AsyncSession, clock_id: UUID, outcome: str, key: tuple[Any, ...]
) -> None:
    """Records (or moves) where a clock is counted: its outcome and its `sla_day` key."""
    due_on, commitment, channel, service_area = key
    values = {
        "outcome": outcome,
        "due_on": due_on,
        "commitment": commitment,
        "channel": channel,
        "service_area": service_area,
    }
    statement = _insert(session)(CountedClock.__table__).values(clock_id=clock_id, **values)
    await session.execute(statement.on_conflict_do_update(index_elements=["clock_id"], set_=values))


async def breach_to_chase(session: AsyncSession, clock_id: UUID) -> Row[Any] | None:
    """A clock's open breach, if it has one."""
    table = OpenBreach.__table__
    return (await session.execute(select(table).where(table.c.clock_id == clock_id))).first()


async def open_breach(session: AsyncSession, **values: Any) -> None:
    """Records a breach still to chase (once per clock)."""
    statement = (
        _insert(session)(OpenBreach.__table__)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["clock_id"])
    )
    await session.execute(statement)


async def close_breach(session: AsyncSession, clock_id: UUID) -> int:
    """Removes a clock's breach from those to chase; how many rows went."""
    result = await session.execute(delete(OpenBreach).where(OpenBreach.clock_id == clock_id))
    return result.rowcount or 0


async def close_breaches_of_contact(session: AsyncSession, contact_id: UUID) -> int:
    """Removes every breach of a contact that has finished; how many rows went."""
    result = await session.execute(delete(OpenBreach).where(OpenBreach.contact_id == contact_id))
    return result.rowcount or 0


async def open_breach_counts(session: AsyncSession) -> dict[str, int]:
    """Open breaches by commitment."""
    rows = await session.execute(
        select(OpenBreach.commitment, func.count()).group_by(OpenBreach.commitment)
    )
    return {commitment: count for commitment, count in rows}


async def mark_finished(session: AsyncSession, contact_id: UUID, *, finished_at: datetime) -> None:
    """Records that a contact was finished with, keeping the latest time (after a reopen)."""
    table = CountedStep.__table__
    statement = _insert(session)(table).values(
        subject_id=contact_id, step="finished", occurred_at=finished_at
    )
    statement = statement.on_conflict_do_update(
        index_elements=["subject_id", "step"],
        set_={
            "occurred_at": _greatest(session, table.c.occurred_at, statement.excluded.occurred_at)
        },
    )
    await session.execute(statement)
