"""The KPI endpoints: HTTP only, one service call each; `?format=csv` on every table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from contact_common.auth import require_scope
from contact_common.errors import PROBLEM_RESPONSES
from contact_common.service import SessionDep
from metrics_api.kpis import domain, service
from metrics_api.kpis.dependencies import (
    SERVICE_AREA_PATTERN,
    ConfigDep,
    OptionalPeriodDep,
    PeriodDep,
    ServiceAreaQuery,
    invalid,
)
from metrics_api.kpis.domain import Breakdown, Interval
from metrics_api.kpis.schemas import (
    Breaches,
    BreachRow,
    ChannelRow,
    Channels,
    Format,
    KpiRow,
    KpiTable,
    Scorecard,
    ScorecardRow,
    SlaCompliance,
    SlaRow,
    WaitRow,
    WaitTimes,
)
from metrics_api.kpis.tables import CSV_RESPONSE, table_response

router = APIRouter(
    prefix="/v1", tags=["metrics"], dependencies=[Depends(require_scope("metrics:read"))]
)

FormatQuery = Annotated[
    Format, Query(alias="format", description="json (default) or csv for a spreadsheet.")
]
IntervalQuery = Annotated[
    Interval,
    Query(description="Cut the period into days or calendar months, or none for the whole."),
]
CommitmentQuery = Annotated[
    str | None, Query(pattern=r"^[a-z][a-z0-9_-]{0,63}$", description="Only this commitment.")
]
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: CSV_RESPONSE,
    **{k: v for k, v in PROBLEM_RESPONSES.items() if k in (401, 403, 422)},
}


def _area_table(
    answer: Callable[..., Awaitable[Scorecard | Channels]], row: type[BaseModel], *, name: str
) -> Callable[..., Awaitable[Any]]:
    """The endpoint of a table of a period, for one service area or all: `answer` (a service
    function) makes it, and `?format=csv` gives its rows as `name`.csv."""

    async def endpoint(
        session: SessionDep,
        config: ConfigDep,
        period: PeriodDep,
        service_area: ServiceAreaQuery = None,
        format_: FormatQuery = Format.json,
    ) -> Any:
        result = await answer(session, period=period, service_area=service_area, config=config)
        return table_response(
            result, row, csv=format_ is Format.csv, name=name, period=period.label
        )

    endpoint.__name__ = f"get_{name}"
    return endpoint


router.get(
    "/scorecard",
    response_model=Scorecard,
    summary="The KPI score card",
    description="Each KPI of the service plan (CX02, CX03, CX04, CX06 by stage, call wait "
    "mean and longest, commitments met) with its target for the period's financial year, the "
    "actual, and red/amber/green in words. `?period=2026-27` or `2026-27-Q1`, or `from`/`to`.",
    responses=RESPONSES,
)(_area_table(service.scorecard, ScorecardRow, name="scorecard"))


@router.get(
    "/kpis",
    response_model=KpiTable,
    summary="Every metric, whole or broken down",
    description="Every metric of the design for a period: the score card's KPIs and service "
    "level, abandonment, reception, complaint counts; `by=channel` or `by=service_area` "
    "breaks them down.",
    responses=RESPONSES,
)
async def get_kpis(
    session: SessionDep,
    config: ConfigDep,
    period: PeriodDep,
    by: Annotated[Breakdown, Query(description="none, channel or service_area.")] = (
        Breakdown.none
    ),
    service_area: ServiceAreaQuery = None,
    format_: FormatQuery = Format.json,
) -> Any:
    result = await service.kpis(
        session, period=period, by=by, service_area=service_area, config=config
    )
    return table_response(
        result, KpiRow, csv=format_ is Format.csv, name="kpis", period=period.label
    )


@router.get(
    "/sla/compliance",
    response_model=SlaCompliance,
    summary="SLA compliance per commitment",
    description="met / (met + breached) per commitment for deadlines falling in the period "
    "(local dates), with an `all` row; `interval=month` or `day` for compliance over time.",
    responses=RESPONSES,
)
async def get_sla_compliance(
    session: SessionDep,
    period: PeriodDep,
    interval: IntervalQuery = Interval.none,
    commitment: CommitmentQuery = None,
    service_area: ServiceAreaQuery = None,
    format_: FormatQuery = Format.json,
) -> Any:
    result = await service.sla_compliance(
        session,
        period=period,
        interval=interval,
        commitment=commitment,
        service_area=service_area,
    )
    return table_response(
        result, SlaRow, csv=format_ is Format.csv, name="sla-compliance", period=period.label
    )


@router.get(
    "/calls/wait-times",
    response_model=WaitTimes,
    summary="Call wait times, service level and abandonment",
    description="Mean, median, 90th percentile and longest wait of answered calls (by the "
    "day offered), the service level (office-hours calls answered within the phone-answer "
    "commitment's target; short abandons "
    "excluded) and the abandonment rate (short abandons included), against the year's targets.",
    responses=RESPONSES,
)
async def get_wait_times(
    session: SessionDep,
    config: ConfigDep,
    period: PeriodDep,
    interval: IntervalQuery = Interval.none,
    channel: Annotated[
        str, Query(pattern=r"^(phone|standby)$", description="phone or standby.")
    ] = "phone",
    service_area: ServiceAreaQuery = None,
    format_: FormatQuery = Format.json,
) -> Any:
    result = await service.wait_times(
        session,
        period=period,
        interval=interval,
        channel=channel,
        service_area=service_area,
        config=config,
    )
    return table_response(
        result, WaitRow, csv=format_ is Format.csv, name="call-wait-times", period=period.label
    )


router.get(
    "/channels",
    response_model=Channels,
    summary="Channel mix, cost and shift",
    description="Contacts and cost by channel at the configured unit costs, and the channel "
    "shift from the previous period (the financial year or quarter before; for from/to, the "
    "same number of days before).",
    responses=RESPONSES,
)(_area_table(service.channels, ChannelRow, name="channels"))


@router.get(
    "/breaches",
    response_model=Breaches,
    summary="Open breaches to chase",
    description="Breached commitments whose clock has not stopped yet, the longest overdue "
    "first; a breach leaves the list when its late stop arrives or its contact is finished. "
    "`count` is how many match in all; pass `next_cursor` back as `cursor` for the next rows.",
    responses=RESPONSES,
)
async def get_breaches(
    session: SessionDep,
    config: ConfigDep,
    period: OptionalPeriodDep,
    commitment: CommitmentQuery = None,
    service_area: Annotated[
        str | None, Query(pattern=SERVICE_AREA_PATTERN, description="Only this service area.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many rows.")] = 500,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous rows.")
    ] = None,
    format_: FormatQuery = Format.json,
) -> Any:
    after = domain.decode_breach_cursor(cursor) if cursor else None
    if cursor and after is None:
        raise invalid("query.cursor", "not a cursor this API gave out; start without one")
    result = await service.breaches(
        session,
        commitment=commitment,
        service_area=service_area,
        period=period,
        limit=limit,
        timezone=config.timezone,
        after=after,
    )
    return table_response(
        result,
        BreachRow,
        csv=format_ is Format.csv,
        name="breaches",
        period=period.label if period else None,
    )
