"""All SQL that reads the read models: sums of daily counters over a range of local dates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypedDict, TypeVar
from uuid import UUID

from sqlalchemy import Table, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from metrics_api.kpis import domain
from metrics_api.kpis.domain import (
    CallTotals,
    CallWaitTotals,
    ComplaintTotals,
    EnquiryTotals,
    FeedbackTotals,
    SlaTotals,
    VisitTotals,
)
from metrics_api.readmodel.models import COUNTER_TABLES, MONTHLY, OpenBreach

Totals = TypeVar(
    "Totals",
    EnquiryTotals,
    CallTotals,
    CallWaitTotals,
    VisitTotals,
    FeedbackTotals,
    ComplaintTotals,
    SlaTotals,
)

TABLE_OF: dict[type[Any], str] = {
    EnquiryTotals: "enquiry_day",
    CallTotals: "call_day",
    CallWaitTotals: "call_wait_day",
    VisitTotals: "visit_day",
    FeedbackTotals: "feedback_day",
    ComplaintTotals: "complaint_day",
    SlaTotals: "sla_day",
}
"""The daily table each kind of totals is summed from: its fields are the table's columns."""

DATE_COLUMN = {
    "enquiry_day": "received_on",
    "call_day": "offered_on",
    "call_wait_day": "offered_on",
    "visit_day": "arrived_on",
    "feedback_day": "submitted_on",
    "complaint_day": "day",
    "sla_day": "due_on",
}


async def sum_counters(
    session: AsyncSession,
    table_name: str,
    *,
    start: date,
    end: date,
    group_by: Sequence[str] = (),
    filters: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Each counter summed (and each `_max` column's maximum) over local dates from `start` to
    `end`, grouped by `group_by`. Whole months come from the monthly roll-ups, the odd days from
    the daily table; grouping by the date itself reads the daily table alone."""
    if DATE_COLUMN[table_name] in group_by:
        return await _sum(session, COUNTER_TABLES[table_name], start, end, group_by, filters)
    days, months = domain.month_split(start, end)
    parts = [
        await _sum(session, COUNTER_TABLES[table_name], first, last, group_by, filters)
        for first, last in days
    ]
    if months is not None:
        parts.append(await _sum(session, MONTHLY[table_name], *months, group_by, filters))
    return domain.merge_totals(parts, list(group_by))


async def totals(
    session: AsyncSession,
    kind: type[Totals],
    *,
    start: date,
    end: date,
    group_by: Sequence[str] = (),
    filters: Mapping[str, Any] | None = None,
) -> list[Totals]:
    """`sum_counters` of the table `kind` is summed from, each row as a `kind`."""
    rows = await sum_counters(
        session, TABLE_OF[kind], start=start, end=end, group_by=group_by, filters=filters
    )
    return [kind(**row) for row in rows]


async def _sum(
    session: AsyncSession,
    table: Table,
    start: date,
    end: date,
    group_by: Sequence[str],
    filters: Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    day = table.c[DATE_COLUMN[table.name.replace("_month", "_day")]]
    values = []
    for column in table.columns:
        if column.primary_key:
            continue
        aggregate = func.max if column.name.endswith("_max") else func.sum
        values.append(func.coalesce(aggregate(column), 0).label(column.name))
    groups = [table.c[name] for name in group_by]
    statement = select(*groups, *values).where(day >= start, day <= end)
    for name, value in (filters or {}).items():
        if value is None:
            continue
        if isinstance(value, list | tuple | set | frozenset):
            statement = statement.where(table.c[name].in_(list(value)))
        else:
            statement = statement.where(table.c[name] == value)
    if groups:
        statement = statement.group_by(*groups)
    rows = await session.execute(statement)
    return [dict(row) for row in rows.mappings()]


def _breach_conditions(
    *, commitment: str | None, service_area: str | None, due_from: Any | None, due_to: Any | None
) -> list[Any]:
    conditions: list[Any] = []
    if commitment is not None:
        conditions.append(OpenBreach.commitment == commitment)
    if service_area is not None:
        conditions.append(OpenBreach.service_area == service_area)
    if due_from is not None:
        conditions.append(OpenBreach.due_at >= due_from)
    if due_to is not None:
        conditions.append(OpenBreach.due_at < due_to)
    return conditions


class BreachFilter(TypedDict):
    """Which open breaches a page and its count are about."""

    commitment: str | None
    service_area: str | None
    due_from: datetime | None
    due_to: datetime | None


async def open_breaches(
    session: AsyncSession,
    *,
    commitment: str | None,
    service_area: str | None,
    due_from: Any | None,
    due_to: Any | None,
    limit: int,
    after: tuple[datetime, UUID] | None = None,
) -> list[OpenBreach]:
    """Open breaches, the longest overdue first, after the (due_at, clock_id) position."""
    conditions = _breach_conditions(
        commitment=commitment, service_area=service_area, due_from=due_from, due_to=due_to
    )
    if after is not None:
        due_at, clock_id = after
        conditions.append(
            or_(
                OpenBreach.due_at > due_at,
                and_(OpenBreach.due_at == due_at, OpenBreach.clock_id > clock_id),
            )
        )
    statement = (
        select(OpenBreach)
        .where(*conditions)
        .order_by(OpenBreach.due_at, OpenBreach.clock_id)
        .limit(limit)
    )
    return list((await session.scalars(statement)).all())


async def count_open_breaches(
    session: AsyncSession,
    *,
    commitment: str | None,
    service_area: str | None,
    due_from: Any | None,
    due_to: Any | None,
) -> int:
    """How many open breaches match, on every page."""
    conditions = _breach_conditions(
        commitment=commitment, service_area=service_area, due_from=due_from, due_to=due_to
    )
    statement = select(func.count()).select_from(OpenBreach).where(*conditions)
    return int((await session.execute(statement)).scalar_one())
