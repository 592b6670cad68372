"""What the dashboard shows, in one answer: the score card, compliance and call waits by month,
the channel mix and shift, and the open breaches (from sla-monitor's worklist when configured:
each names its contact's reference, links to it and names its owner)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from metrics_api.config import Settings
from metrics_api.dashboard.worklist import (
    WorklistFilters,
    contact_link,
    fetch_worklist,
    worklist_configured,
)
from metrics_api.kpis import service as kpis
from metrics_api.kpis.domain import Interval, Period
from metrics_api.kpis.service import KpiConfig

BREACHES_SHOWN = 20


async def dashboard_data(
    session: AsyncSession,
    *,
    period: Period,
    service_area: str | None,
    config: KpiConfig,
    settings: Settings,
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
    breaches, source = await open_breaches(
        session, settings=settings, service_area=service_area, config=config
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
        "breaches": breaches,
        "breaches_source": source,
    }


async def open_breaches(
    session: AsyncSession, *, settings: Settings, service_area: str | None, config: KpiConfig
) -> tuple[list[dict[str, Any]], str]:
    """The longest-overdue open breaches and where they came from: sla-monitor's worklist
    (`status=breached`, each row with its reference, link and owner) when it is configured
    and answers, else metrics-api's own list (no reference or owner: its events carry none)."""
    if worklist_configured(settings):
        filters = WorklistFilters(service_area=service_area or "", status="breached")
        result = await fetch_worklist(settings, filters, limit=BREACHES_SHOWN)
        if result.problem is None:
            as_of = datetime.fromisoformat(result.page["as_of"])
            return [_from_worklist(settings, i, as_of) for i in result.page["items"]], "sla-monitor"
    found = await kpis.breaches(
        session, service_area=service_area, limit=BREACHES_SHOWN, timezone=config.timezone
    )
    return [
        {
            **row.model_dump(mode="json"),
            "reference": None,
            "link": contact_link(settings, row.contact_type, str(row.contact_id)),
            "owner": None,
        }
        for row in found.rows
    ], "metrics-api"


def _from_worklist(settings: Settings, item: dict[str, Any], as_of: datetime) -> dict[str, Any]:
    due_at = datetime.fromisoformat(item["due_at"])
    return {
        "clock_id": item["clock_id"],
        "commitment": item["commitment"],
        "contact_type": item["subject_type"],
        "contact_id": item["subject_id"],
        "reference": item["reference"],
        "link": contact_link(settings, item["subject_type"], item["subject_id"]),
        "owner": item["assignee_name"] or item["assignee_id"] or "Unassigned",
        "service_area": item["service_area"],
        "due_at": item["due_at"],
        "overdue_seconds": max((as_of - due_at).total_seconds(), 0.0),
    }
