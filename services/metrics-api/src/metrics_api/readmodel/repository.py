"""All SQL that writes the read models: counted-once steps, counter upserts, open breaches.

The consumer reads what a batch needs in one statement per table and writes what it changed in
one statement per table, whatever the batch's size. On PostgreSQL those statements take one
array per column (`= ANY`, `unnest`): the same prepared statement for every batch, no SQL
compiled per batch. SQLite (the embedded default) gets the portable statements.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import CursorResult, Table, TextClause, delete, func, or_, select, text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.db import insert_for, is_postgresql, postgresql_arrays, postgresql_name
from metrics_api.readmodel.domain import (
    Breach,
    Clock,
    ClockCount,
    ComplaintDayKey,
    ContactStep,
    CounterKey,
    Counts,
    EnquiryDayKey,
    Place,
    SlaDayKey,
    by_month,
)
from metrics_api.readmodel.models import (
    COUNTER_TABLES,
    COUNTERS,
    MONTHLY,
    CountedClock,
    CountedPlace,
    CountedStep,
    OpenBreach,
)

_TABLE_OF_KEY: dict[type[CounterKey], str] = {key: table.name for key, table in COUNTERS.items()}
"""The daily table of each kind of counter row: a key's fields are its key columns by name."""

_STEP: Table = CountedStep.__table__
_CLOCK: Table = CountedClock.__table__
_BREACH: Table = OpenBreach.__table__
_STEP_COLUMNS = ("subject_id", "step", "occurred_at")
_CLOCK_COLUMNS = tuple(column.name for column in _CLOCK.columns)
_BREACH_COLUMNS = tuple(column.name for column in _BREACH.columns)
_CLOCK_FIELDS = tuple(f.name for f in fields(Clock))
_SLA_KEY_FIELDS = tuple(f.name for f in fields(SlaDayKey))


def _record(*parts: Any) -> dict[str, Any]:
    """The fields of typed rows (dataclasses) by name: the columns they are written to."""
    return {f.name: getattr(part, f.name) for part in parts for f in fields(part)}


def _greatest(session: AsyncSession, left: Any, right: Any) -> Any:
    # PostgreSQL's greatest() is SQLite's two-argument max().
    if is_postgresql(session):
        return func.greatest(left, right)
    return func.max(left, right)


def _unnest(table: Table, columns: Sequence[str]) -> str:
    """`unnest` of one array parameter per column, named after the column."""
    return f"unnest({postgresql_arrays(table, columns)}) AS batch ({', '.join(columns)})"


def _arrays(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> dict[str, list[Any]]:
    """Rows as one list per column (the arrays `unnest` takes)."""
    return {column: [row[column] for row in rows] for column in columns}


_STEPS_OF = text(
    f"SELECT subject_id, step, occurred_at FROM {postgresql_name(_STEP)} "
    f"WHERE subject_id = ANY({postgresql_arrays(_STEP, ['subject_id'])})"
)
_CLOCKS_OF = text(
    f"SELECT {', '.join(_CLOCK_COLUMNS)} FROM {postgresql_name(_CLOCK)} "
    f"WHERE clock_id = ANY({postgresql_arrays(_CLOCK, ['clock_id'])})"
)
_BREACHES_OF = text(
    f"SELECT {', '.join(_BREACH_COLUMNS)} FROM {postgresql_name(_BREACH)} "
    f"WHERE clock_id = ANY({postgresql_arrays(_BREACH, ['clock_id'])})"
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
    f"WHERE clock_id = ANY({postgresql_arrays(_BREACH, ['clock_id'])}) "
    f"OR contact_id = ANY({postgresql_arrays(_BREACH, ['contact_id'])})"
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
) -> dict[ContactStep, datetime]:
    """The counted steps of these contacts, and when each happened."""
    if not subjects:
        return {}
    if is_postgresql(session):
        result = await session.execute(_STEPS_OF, {"subject_id": list(subjects)})
    else:
        result = await session.execute(
            select(_STEP.c.subject_id, _STEP.c.step, _STEP.c.occurred_at).where(
                _STEP.c.subject_id.in_(list(subjects))
            )
        )
    return {ContactStep(row.subject_id, row.step): row.occurred_at for row in result}


async def clocks_of(session: AsyncSession, clock_ids: Collection[UUID]) -> dict[UUID, ClockCount]:
    """Where each of these SLA clocks is counted, for those that are."""
    if not clock_ids:
        return {}
    if is_postgresql(session):
        result = await session.execute(_CLOCKS_OF, {"clock_id": list(clock_ids)})
    else:
        result = await session.execute(select(_CLOCK).where(_CLOCK.c.clock_id.in_(list(clock_ids))))
    return {row.clock_id: _clock_count(row._mapping) for row in result}


def _clock_count(row: RowMapping) -> ClockCount:
    # A clock counted before the record kept its outcome has neither outcome nor key.
    if row["outcome"] is None:
        return ClockCount(None, None)
    return ClockCount(row["outcome"], SlaDayKey(**{name: row[name] for name in _SLA_KEY_FIELDS}))


async def breaches_of(session: AsyncSession, clock_ids: Collection[UUID]) -> dict[UUID, Breach]:
    """The open breaches of these SLA clocks, by clock."""
    if not clock_ids:
        return {}
    if is_postgresql(session):
        result = await session.execute(_BREACHES_OF, {"clock_id": list(clock_ids)})
    else:
        result = await session.execute(
            select(_BREACH).where(_BREACH.c.clock_id.in_(list(clock_ids)))
        )
    return {
        row.clock_id: Breach(
            Clock(**{name: row._mapping[name] for name in _CLOCK_FIELDS}), row.breached_at
        )
        for row in result
    }


# -- what a batch writes ---------------------------------------------------------------------------


async def add_steps(session: AsyncSession, steps: Mapping[ContactStep, datetime]) -> None:
    """Records steps of contacts as counted; one counted before is left as it was."""
    if not steps:
        return
    rows = [{**_record(step), "occurred_at": at} for step, at in steps.items()]
    if is_postgresql(session):
        await session.execute(_ADD_STEPS, _arrays(rows, _STEP_COLUMNS))
    else:
        await session.execute(insert_for(session, _STEP).on_conflict_do_nothing(), rows)


async def mark_finished(session: AsyncSession, finished: Mapping[UUID, datetime]) -> None:
    """Records that contacts were finished with, keeping the latest time (after a reopen)."""
    if not finished:
        return
    rows = [{"subject_id": s, "occurred_at": at} for s, at in finished.items()]
    if is_postgresql(session):
        await session.execute(_MARK_FINISHED, _arrays(rows, ("subject_id", "occurred_at")))
        return
    statement = insert_for(session, _STEP)
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
        {"clock_id": clock_id, "outcome": count.outcome, **_record(count.key)}
        for clock_id, count in counts.items()
    ]
    if is_postgresql(session):
        await session.execute(_COUNT_CLOCKS, _arrays(rows, _CLOCK_COLUMNS))
        return
    statement = insert_for(session, _CLOCK)
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
    if is_postgresql(session):
        result = await session.execute(
            _CLOSE_BREACHES, {"clock_id": list(clock_ids), "contact_id": list(contact_ids)}
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
    # A DELETE runs on a cursor; the generic Result in execute()'s signature has no rowcount.
    return cast(CursorResult[Any], result).rowcount or 0


async def open_breaches(session: AsyncSession, breaches: Sequence[Breach]) -> None:
    """Records breaches still to chase (once per clock)."""
    if not breaches:
        return
    rows = [{**_record(b.clock), "breached_at": b.breached_at} for b in breaches]
    if is_postgresql(session):
        await session.execute(_OPEN_BREACHES, _arrays(rows, _BREACH_COLUMNS))
    else:
        await session.execute(insert_for(session, _BREACH).on_conflict_do_nothing(), rows)


async def add_counts(session: AsyncSession, counts: Iterable[tuple[CounterKey, Counts]]) -> None:
    """Adds a batch's counter changes to the daily tables and their monthly roll-ups: one
    statement per table on PostgreSQL, one multi-row upsert per table elsewhere."""
    by_table: dict[str, list[tuple[CounterKey, Counts]]] = defaultdict(list)
    for key, changes in counts:
        by_table[_TABLE_OF_KEY[type(key)]].append((key, changes))
    for name, rows in by_table.items():
        records = [_record(key, changes) for key, changes in rows]
        if is_postgresql(session):
            await session.execute(_ADD_COUNTS[name], _arrays(records, _COUNTS[name]))
            continue
        await _upsert(session, COUNTER_TABLES[name], records)
        await _upsert(session, MONTHLY[name], [_record(k, c) for k, c in by_month(rows)])


async def _upsert(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    keys = [c.name for c in table.primary_key.columns]
    values = [c.name for c in table.columns if not c.primary_key]
    statement = insert_for(session, table).values(rows)
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


# -- where contacts' steps are counted (corrections and voids move them) ---------------------------

_PLACE: Table = CountedPlace.__table__


async def places_of(session: AsyncSession, subjects: Collection[UUID]) -> dict[ContactStep, Place]:
    """Where the counted steps of these contacts are counted."""
    if not subjects:
        return {}
    result = await session.execute(select(_PLACE).where(_PLACE.c.subject_id.in_(list(subjects))))
    return {ContactStep(row.subject_id, row.step): _place_of(row._mapping) for row in result}


def _place_of(row: RowMapping) -> Place:
    common = {"channel": row["channel"], "service_area": row["service_area"]}
    if row["counter"] == COUNTERS[EnquiryDayKey].name:
        return Place(EnquiryDayKey(received_on=row["day"], **common))
    return Place(ComplaintDayKey(day=row["day"], stage=row["stage"], **common), row["outcome"])


def _place_row(step: ContactStep, place: Place) -> dict[str, Any]:
    key = place.key
    enquiry = isinstance(key, EnquiryDayKey)
    return {
        "subject_id": step.subject_id,
        "step": step.step,
        "counter": _TABLE_OF_KEY[type(key)],
        "day": key.received_on if enquiry else key.day,  # type: ignore[union-attr]
        "channel": key.channel,
        "service_area": key.service_area,
        "stage": None if enquiry else key.stage,  # type: ignore[union-attr]
        "outcome": place.outcome,
    }


async def save_places(session: AsyncSession, places: Mapping[ContactStep, Place]) -> None:
    """Records (or moves) where contacts' steps are counted."""
    if not places:
        return
    rows = [_place_row(step, place) for step, place in places.items()]
    statement = insert_for(session, _PLACE)
    statement = statement.on_conflict_do_update(
        index_elements=["subject_id", "step"],
        set_={c.name: statement.excluded[c.name] for c in _PLACE.columns if not c.primary_key},
    )
    await session.execute(statement, rows)


async def drop_places(session: AsyncSession, steps: Collection[ContactStep]) -> None:
    """Forgets where these steps were counted (their contact was voided: they count nowhere)."""
    for step in steps:
        await session.execute(
            delete(_PLACE).where(_PLACE.c.subject_id == step.subject_id, _PLACE.c.step == step.step)
        )
