"""What the dashboard shows, in one answer: the score card, compliance and call waits by month,
the channel mix and shift, and the open breaches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from metrics_api.kpis import service as kpis
from metrics_api.kpis.domain import Interval, Period
from metrics_api.kpis.service import KpiConfig

BREACHES_SHOWN = 20


async def dashboard_data(
    session: AsyncSession, *, period: Period, service_area: str | None, config: KpiConfig
) -> dict[str, Any]:
    """Every panel's figures for a period."""
    scorecard = await kpis.scorecard(
        session, period=period, service_area=service_area, config=config
    )
    sla = await kpis.sla_compliance(
        session, period=period, interval=Interval.month, commitment=None, service_area=service_area
    )
    waits = await kpis.wait_times(
        session,
        period=period,
        interval=Interval.month,
        channel=config.call_channels[0] if config.call_channels else "phone",
        service_area=service_area,
        config=config,
    )
    channels = await kpis.channels(session, period=period, service_area=service_area, config=config)
    breaches = await kpis.breaches(
        session,
        commitment=None,
        service_area=service_area,
        period=None,
        limit=BREACHES_SHOWN,
        now=datetime.now(UTC),
        timezone=config.timezone,
    )
    return {
        "period": scorecard.period.model_dump(mode="json"),
        "service_area": service_area,
        "generated_at": datetime.now(UTC).isoformat(),
        "scorecard": [row.model_dump(mode="json") for row in scorecard.rows],
        "sla_by_month": [
            row.model_dump(mode="json") for row in sla.rows if row.commitment == "all"
        ],
        "calls_by_month": [row.model_dump(mode="json") for row in waits.rows],
        "channels": channels.model_dump(mode="json"),
        "breaches": [row.model_dump(mode="json") for row in breaches.rows],
    }
