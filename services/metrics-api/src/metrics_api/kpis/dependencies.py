"""Query parameters every KPI endpoint shares: the period, the service area, the configuration."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request

from contact_common.errors import ProblemError, invalid_field
from contact_common.instants import FIRST_DAY, LAST_DAY, Day
from metrics_api.kpis import domain
from metrics_api.kpis.domain import Period, PeriodError
from metrics_api.kpis.service import KpiConfig, default_period

SERVICE_AREA_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


def invalid(field: str, message: str) -> ProblemError:
    """A 422 problem naming one query parameter."""
    return invalid_field(field, message)


def get_config(request: Request) -> KpiConfig:
    """The KPI configuration of this service (built once)."""
    state = request.app.state
    if getattr(state, "kpi_config", None) is None:
        state.kpi_config = KpiConfig.from_settings(state.runtime.settings)
    config: KpiConfig = state.kpi_config
    return config


ConfigDep = Annotated[KpiConfig, Depends(get_config)]


def _period(
    config: ConfigDep,
    period: Annotated[
        str | None,
        Query(
            description="A UK financial year (2026-27, April to March) or a quarter of one "
            "(2026-27-Q1 is April to June). Default: the financial year in progress.",
            examples=["2026-27"],
        ),
    ] = None,
    from_: Annotated[
        Day | None,
        Query(alias="from", description="First local date (with `to`), instead of `period`."),
    ] = None,
    to: Annotated[Day | None, Query(description="Last local date, included (with `from`).")] = None,
) -> Period:
    if period is not None and (from_ is not None or to is not None):
        raise invalid("query.period", "give either period or from and to, not both")
    if period is not None:
        try:
            parsed = domain.parse_period(period)
        except PeriodError as exc:
            raise invalid("query.period", str(exc)) from exc
        except ValueError:  # a year out of range (0000-01) was a 500 (issue 7)
            parsed = None
        # The period before it is compared too, so that one must be in range as well.
        if parsed is None or parsed.start.year <= FIRST_DAY.year or parsed.end > LAST_DAY:
            raise invalid("query.period", "must be a financial year from 1971-72 to 2098-99")
        return parsed
    if from_ is not None or to is not None:
        if from_ is None:
            raise invalid("query.from", "from is needed with to")
        if to is None:
            raise invalid("query.to", "to is needed with from")
        try:
            return domain.date_range(from_, to)
        except PeriodError as exc:
            raise invalid("query.to", str(exc)) from exc
    return default_period(datetime.now(config.timezone).date())


PeriodDep = Annotated[Period, Depends(_period)]

ServiceAreaQuery = Annotated[
    str | None,
    Query(
        pattern=SERVICE_AREA_PATTERN,
        description="Only this service area (a slug such as council_tax).",
    ),
]


def _optional_period(
    config: ConfigDep,
    period: Annotated[
        str | None,
        Query(description="Only breaches due in this financial year or quarter (2026-27-Q1)."),
    ] = None,
    from_: Annotated[
        Day | None, Query(alias="from", description="Only breaches due from this local date.")
    ] = None,
    to: Annotated[
        Day | None, Query(description="...to this local date, included (with `from`).")
    ] = None,
) -> Period | None:
    if period is None and from_ is None and to is None:
        return None
    return _period(config, period, from_, to)


OptionalPeriodDep = Annotated[Period | None, Depends(_optional_period)]
