"""All SQL that writes the read models: counted-once steps, counter upserts, open breaches.

The consumer reads what a batch needs in one statement per table and writes what it changed in
one statement per table, whatever the batch's size. On PostgreSQL those statements take one
array per column (`= ANY`, `unnest`): the same prepared statement for every batch, no SQL
compiled per batch. SQLite (the embedded default) gets the portable statements.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Integer, Table, TextClause, delete, func, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.db import postgresql_arrays, postgresql_name
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

_STEP: Table = CountedStep.__table__  # type: ignore[assignment]
_CLOCK: Table = CountedClock.__table__  # type: ignore[assignment]
_BREACH: Table = OpenBreach.__table__  # type: ignore[assignment]
_STEP_COLUMNS = ("subject_id", "step", "occurred_at")
_CLOCK_COLUMNS = tuple(column.name for column in _CLOCK.columns)
_BREACH_COLUMNS = tuple(column.name for column in _BREACH.columns)
_POSTGRESQL = postgresql.dialect()


@dataclass(frozen=True, slots=True)
class ClockCount:
    """Where an SLA clock is counted: its outcome and its `sla_day` key (due_on, commitment,
    channel, service_area); no outcome if it was counted before the record kept one."""

    outcome: str | None
    key: tuple[Any, ...]


def _on_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _insert(session: AsyncSession) -> Any:
    return postgresql.insert if _on_postgresql(session) else sqlite.insert


def _greatest(session: AsyncSession, left: Any, right: Any) -> Any:
    # PostgreSQL's greatest() is SQLite's two-argument max().
    if _on_postgresql(session):
        return func.greatest(left, right)
    return func.max(left, right)


def _array(table: Table, column: str, parameter: str | None = None) -> str:
    """A typed array parameter of `column`'s type."""
    sql_type = table.c[column].type.compile(dialect=_POSTGRESQL)
    return f"CAST(:{parameter or column} AS {sql_type}[])"


def _unnest(table: Table, columns: Sequence[str]) -> str:
    """`unnest` of one array parameter per column, named after the column."""
    return f"unnest({postgresql_arrays(table, columns)}) AS batch ({', '.join(columns)})"


def _arrays(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> dict[str, list[Any]]:
    """Rows as one list per column (the arrays `unnest` takes)."""
    return {column: [row[column] for row in rows] for column in columns}


_STEPS_OF = text(
    f"SELECT subject_id, step, occurred_at FROM {postgresql_name(_STEP)} "
    f"WHERE subject_id = ANY({_array(_STEP, 'subject_id', 'subjects')})"
)
_CLOCKS_OF = text(
    f"SELECT {', '.join(_CLOCK_COLUMNS)} FROM {postgresql_name(_CLOCK)} "
    f"WHERE clock_id = ANY({_array(_CLOCK, 'clock_id', 'clocks')})"
)
_BREACHES_OF = text(
    f"SELECT {', '.join(_BREACH_COLUMNS)} FROM {postgresql_name(_BREACH)} "
    f"WHERE clock_id = ANY({_array(_BREACH, 'clock_id', 'clocks')})"
)
_ADD_STEPS = text(
    f"INSERT INTO {postgresql_name(_STEP)} ({', '.join(_STEP_COLUMNS)}) "
    f"SELECT * FROM {_unnest(_STEP, _STEP_COLUMNS)} ON CONFLICT DO NOTHING"
)
_MARK_FINISHED = text(
    f"INSERT INTO {postgresql_name(_STEP)} AS counted ({', '.join(_STEP_COLUMNS)}) "
    f"SELECT subject_id, 'finished', occurred_at "
    f"FROM {_unnest(_STEP, ('subject_id', 'occurred_at'))} "
    "ON CONFLICT (subject_id, step) "
    "DO UPDATE SET occurred_at = greatest(counted.occurred_at, excluded.occurred_at)"
)
_COUNT_CLOCKS = text(
    f"INSERT INTO {postgresql_name(_CLOCK)} ({', '.join(_CLOCK_COLUMNS)}) "
    f"SELECT * FROM {_unnest(_CLOCK, _CLOCK_COLUMNS)} "
    "ON CONFLICT (clock_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _CLOCK_COLUMNS if c != "clock_id")
)
_CLOSE_BREACHES = text(
    f"DELETE FROM {postgresql_name(_BREACH)} "
    f"WHERE clock_id = ANY({_array(_BREACH, 'clock_id', 'clocks')}) "
    f"OR contact_id = ANY({_array(_BREACH, 'contact_id', 'contacts')})"
)
_OPEN_BREACHES = text(
    f"INSERT INTO {postgresql_name(_BREACH)} ({', '.join(_BREACH_COLUMNS)}) "
    f"SELECT * FROM {_unnest(_BREACH, _BREACH_COLUMNS)} ON CONFLICT DO NOTHING"
)


def _add_counts(day: Table, month: Table) -> TextClause:
    """Adds a batch's rows to a daily table and, summed by month, to its monthly roll-up."""
    keys = [c.name for c in day.primary_key.columns]
    values = [c.name for c in day.columns if not c.primary_key]
    columns = ", ".join([*keys, *values])
    in_order = ", ".join(str(n) for n in range(1, len(keys) + 1))
    added = ", ".join(
        f"{c} = greatest(counter.{c}, excluded.{c})"
        if c.endswith("_max")
        else f"{c} = counter.{c} + excluded.{c}"
        for c in values
    )
    # Every key leads with its local date: the month's key is that date's first day. Rows go
    # in key order, so two instances adding to the same days lock them in the same order.
    month_of = f"CAST(date_trunc('month', {keys[0]}) AS DATE)"
    totals = ", ".join(f"max({c})" if c.endswith("_max") else f"sum({c})" for c in values)
    return text(
        f"WITH changes AS (SELECT * FROM {_unnest(day, [*keys, *values])}), "
        f"daily AS (INSERT INTO {postgresql_name(day)} AS counter ({columns}) "
        f"SELECT {columns} FROM changes ORDER BY {in_order} "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {added}) "
        f"INSERT INTO {postgresql_name(month)} AS counter ({columns}) "
        f"SELECT {month_of}, {', '.join([*keys[1:], totals])} FROM changes "
        f"GROUP BY {in_order} ORDER BY {in_order} "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {added}"
    )


_ADD_COUNTS = {name: _add_counts(table, MONTHLY[name]) for name, table in COUNTER_TABLES.items()}
_COUNTS = {name: [c.name for c in table.columns] for name, table in COUNTER_TABLES.items()}


# -- what a batch reads ----------------------------------------------------------------------------


async def steps_of(
    session: AsyncSession, subjects: Collection[UUID]
) -> dict[tuple[UUID, str], datetime]:
    """The counted steps of these contacts, and when each happened."""
    if not subjects:
        return {}
    if _on_postgresql(session):
        result = await session.execute(_STEPS_OF, {"subjects": list(subjects)})
    else:
        result = await session.execute(
            select(_STEP.c.subject_id, _STEP.c.step, _STEP.c.occurred_at).where(
                _STEP.c.subject_id.in_(list(subjects))
            )
        )
    return {(row.subject_id, row.step): row.occurred_at for row in result}


async def clocks_of(session: AsyncSession, clock_ids: Collection[UUID]) -> dict[UUID, ClockCount]:
    """Where each of these SLA clocks is counted, for those that are."""
    if not clock_ids:
        return {}
    if _on_postgresql(session):
        result = await session.execute(_CLOCKS_OF, {"clocks": list(clock_ids)})
    else:
        result = await session.execute(select(_CLOCK).where(_CLOCK.c.clock_id.in_(list(clock_ids))))
    return {
        row.clock_id: ClockCount(
            row.outcome, (row.due_on, row.commitment, row.channel, row.service_area)
        )
        for row in result
    }


async def breaches_of(
    session: AsyncSession, clock_ids: Collection[UUID]
) -> dict[UUID, dict[str, Any]]:
    """The open breaches of these SLA clocks (each an `open_breach` row), by clock."""
    if not clock_ids:
        return {}
    if _on_postgresql(session):
        result = await session.execute(_BREACHES_OF, {"clocks": list(clock_ids)})
    else:
        result = await session.execute(
            select(_BREACH).where(_BREACH.c.clock_id.in_(list(clock_ids)))
        )
    return {row.clock_id: dict(row._mapping) for row in result}


# -- what a batch writes ---------------------------------------------------------------------------


async def add_steps(session: AsyncSession, steps: Mapping[tuple[UUID, str], datetime]) -> None:
    """Records steps of contacts as counted; one counted before is left as it was."""
    if not steps:
        return
    rows = [
        {"subject_id": subject_id, "step": step, "occurred_at": at}
        for (subject_id, step), at in steps.items()
    ]
    if _on_postgresql(session):
        await session.execute(_ADD_STEPS, _arrays(rows, _STEP_COLUMNS))
    else:
        await session.execute(sqlite.insert(_STEP).on_conflict_do_nothing(), rows)


async def mark_finished(session: AsyncSession, finished: Mapping[UUID, datetime]) -> None:
    """Records that contacts were finished with, keeping the latest time (after a reopen)."""
    if not finished:
        return
    rows = [{"subject_id": s, "occurred_at": at} for s, at in finished.items()]
    if _on_postgresql(session):
        await session.execute(_MARK_FINISHED, _arrays(rows, ("subject_id", "occurred_at")))
        return
    statement = sqlite.insert(_STEP)
    statement = statement.on_conflict_do_update(
        index_elements=["subject_id", "step"],
        set_={"occurred_at": func.max(_STEP.c.occurred_at, statement.excluded.occurred_at)},
    )
    await session.execute(statement, [{**row, "step": "finished"} for row in rows])


async def count_clocks(session: AsyncSession, counts: Mapping[UUID, ClockCount]) -> None:
    """Records (or moves) where clocks are counted: their outcome and their `sla_day` key."""
    if not counts:
        return
    rows = [
        dict(zip(_CLOCK_COLUMNS, (clock_id, count.outcome, *count.key), strict=True))
        for clock_id, count in counts.items()
    ]
    if _on_postgresql(session):
        await session.execute(_COUNT_CLOCKS, _arrays(rows, _CLOCK_COLUMNS))
        return
    statement = sqlite.insert(_CLOCK)
    statement = statement.on_conflict_do_update(
        index_elements=["clock_id"],
        set_={c: statement.excluded[c] for c in _CLOCK_COLUMNS if c != "clock_id"},
    )
    await session.execute(statement, rows)


async def close_breaches(
    session: AsyncSession, *, clock_ids: Collection[UUID], contact_ids: Collection[UUID]
) -> int:
    """Removes from those to chase the breaches of these clocks and of these contacts (which
    were finished with); how many rows went."""
    if not clock_ids and not contact_ids:
        return 0
    if _on_postgresql(session):
        result = await session.execute(
            _CLOSE_BREACHES, {"clocks": list(clock_ids), "contacts": list(contact_ids)}
        )
    else:
        result = await session.execute(
            delete(_BREACH).where(
                or_(
                    _BREACH.c.clock_id.in_(list(clock_ids)),
                    _BREACH.c.contact_id.in_(list(contact_ids)),
                )
            )
        )
    return result.rowcount or 0


async def open_breaches(session: AsyncSession, breaches: Sequence[Mapping[str, Any]]) -> None:
    """Records breaches still to chase (once per clock)."""
    if not breaches:
        return
    if _on_postgresql(session):
        await session.execute(_OPEN_BREACHES, _arrays(breaches, _BREACH_COLUMNS))
    else:
        await session.execute(sqlite.insert(_BREACH).on_conflict_do_nothing(), list(breaches))


async def flush(session: AsyncSession, tally: Tally) -> None:
    """Adds a batch's counter changes to the daily tables and their monthly roll-ups: one
    statement per table on PostgreSQL, one multi-row upsert per table elsewhere."""
    for name in tally.tables():
        rows = tally.rows(name)
        if _on_postgresql(session):
            table = COUNTER_TABLES[name]
            await session.execute(_ADD_COUNTS[name], _arrays(_records(table, rows), _COUNTS[name]))
            continue
        await _upsert(session, COUNTER_TABLES[name], rows)
        # Every key leads with its local date: the month's key is that date's first day.
        monthly = Tally()
        for key, sums, peaks in rows:
            month_key = (key[0].replace(day=1), *key[1:])  # type: ignore[attr-defined]
            monthly.add(name, month_key, **sums)
            for column, value in peaks.items():
                monthly.peak(name, month_key, column, value)
        await _upsert(session, MONTHLY[name], monthly.rows(name))


def _records(
    table: Table, rows: list[tuple[tuple[object, ...], dict[str, float], dict[str, float]]]
) -> list[dict[str, Any]]:
    """A tally's rows as records of `table`: every counter, 0 where the batch changed none."""
    keys = [c.name for c in table.primary_key.columns]
    values = [c.name for c in table.columns if not c.primary_key]
    whole = {c.name for c in table.columns if isinstance(c.type, Integer) and not c.primary_key}
    records = []
    for key, sums, peaks in rows:
        record: dict[str, Any] = dict(zip(keys, key, strict=True))
        for column in values:
            value = peaks.get(column, 0) if column.endswith("_max") else sums.get(column, 0)
            record[column] = int(value) if column in whole else value
        records.append(record)
    return records


async def _upsert(
    session: AsyncSession,
    table: Table,
    rows: list[tuple[tuple[object, ...], dict[str, float], dict[str, float]]],
) -> None:
    keys = [c.name for c in table.primary_key.columns]
    values = [c.name for c in table.columns if not c.primary_key]
    statement = _insert(session)(table).values(_records(table, rows))
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


async def open_breach_counts(session: AsyncSession) -> dict[str, int]:
    """Open breaches by commitment."""
    rows = await session.execute(
        select(OpenBreach.commitment, func.count()).group_by(OpenBreach.commitment)
    )
    return {commitment: count for commitment, count in rows}
