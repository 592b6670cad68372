"""KPI questions answered from the read models: keyword-only functions taking a session."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from typing import TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from metrics_api.config import Settings
from metrics_api.kpis import domain, repository
from metrics_api.kpis.domain import (
    Breakdown,
    CallTotals,
    CallWaitTotals,
    ComplaintTotals,
    EnquiryTotals,
    FeedbackTotals,
    Figures,
    Interval,
    Period,
    SlaTotals,
    VisitTotals,
)
from metrics_api.kpis.schemas import (
    Breaches,
    BreachRow,
    ChannelRow,
    Channels,
    KpiRow,
    KpiTable,
    PeriodOut,
    Scorecard,
    ScorecardRow,
    SlaCompliance,
    SlaRow,
    WaitRow,
    WaitTimes,
)
from metrics_api.readmodel.domain import NO_SERVICE_AREA


@dataclass(frozen=True)
class KpiConfig:
    """What the KPIs depend on from the settings."""

    timezone: ZoneInfo
    online_channels: tuple[str, ...] = ("web_form", "portal")
    call_channels: tuple[str, ...] = ("phone",)
    unit_costs: dict[str, float] = field(default_factory=dict)
    targets: dict[str, dict[str, float]] = field(default_factory=dict)
    amber_band_percent: float = 5.0
    sla_commitments: tuple[str, ...] | None = None
    """The commitments the SLA figures of the score card and KPIs count: the policy's (None:
    every commitment counted)."""
    standing_targets: dict[str, float] = field(default_factory=dict)
    """Targets that hold every year unless `targets` says otherwise: the longest wait is the
    phone-wait-max commitment's target (the seed's "never over 10 minutes")."""

    @classmethod
    def from_settings(cls, settings: Settings) -> KpiConfig:
        """The configuration of a running service."""
        return cls(
            timezone=settings.calendar.timezone,
            online_channels=tuple(settings.online_channels),
            call_channels=tuple(settings.call_channels),
            unit_costs=dict(settings.unit_costs),
            targets={k: dict(v) for k, v in settings.targets.items()},
            amber_band_percent=settings.amber_band_percent,
            sla_commitments=tuple(c.id for c in settings.commitments.commitments),
            standing_targets=_standing_targets(settings),
        )

    def targets_in(self, year: str) -> dict[str, dict[str, float]]:
        """Every KPI's targets by year, with the standing ones as set for `year`."""
        standing = {k: {year: v} for k, v in self.standing_targets.items() if k not in self.targets}
        return {**self.targets, **standing}

    def target(self, kpi: str, year: str) -> tuple[float | None, str | None]:
        """A KPI's target for a financial year and the year it was set for."""
        return domain.target_for(self.targets_in(year).get(kpi, {}), year)


def _standing_targets(settings: Settings) -> dict[str, float]:
    commitment = settings.commitments.by_id.get("phone-wait-max")
    if commitment is None or commitment.target.seconds is None:
        return {}
    return {"call-wait-max": float(commitment.target.seconds)}


def period_out(period: Period) -> PeriodOut:
    """The period as the API shows it."""
    return PeriodOut(
        label=period.label,
        kind=period.kind,
        start=period.start,
        end=period.end,
        financial_year=period.financial_year,
    )


def _area(value: str | None) -> str | None:
    return None if value in (None, NO_SERVICE_AREA) else value


def _unique(*columns: str) -> list[str]:
    return list(dict.fromkeys(columns))


async def _figures(
    session: AsyncSession,
    period: Period,
    *,
    by: Sequence[str],
    service_area: str | None,
    commitments: Collection[str] | None,
) -> Figures:
    """The counters of a period, grouped by `by` and what each table's metrics need; the SLA
    figures of `commitments` only (the policy's), when given."""

    async def total(kind: type[repository.Totals], *group: str) -> list[repository.Totals]:
        return await repository.totals(
            session,
            kind,
            start=period.start,
            end=period.end,
            group_by=_unique(*group),
            filters={"service_area": service_area},
        )

    return Figures(
        enquiries=await total(EnquiryTotals, *by, "channel"),
        feedback=await total(FeedbackTotals, *by, "channel"),
        complaints=await total(ComplaintTotals, *by, "stage"),
        calls=await total(CallTotals, *by, "channel", "in_office_hours"),
        sla=[
            row
            for row in await total(SlaTotals, *by, "commitment")
            if commitments is None or row.commitment in commitments
        ],
        visits=await total(VisitTotals, *(b for b in by if b != "channel")),
    )


async def scorecard(
    session: AsyncSession, *, period: Period, service_area: str | None, config: KpiConfig
) -> Scorecard:
    """Each KPI with its target for the period's financial year, the actual and its status."""
    figures = await _figures(
        session, period, by=(), service_area=service_area, commitments=config.sla_commitments
    )
    measures = domain.scorecard_measures(
        figures, call_channels=config.call_channels, online_channels=config.online_channels
    )
    scores = domain.score_card(
        measures,
        targets=config.targets_in(period.financial_year),
        year=period.financial_year,
        amber_band_percent=config.amber_band_percent,
    )
    rows = [
        ScorecardRow(
            kpi=score.kpi.kpi,
            title=score.kpi.title,
            unit=score.kpi.unit,
            direction=score.kpi.direction,
            target=score.target,
            target_year=score.target_year,
            actual=score.measure.value,
            numerator=score.measure.numerator,
            denominator=score.measure.denominator,
            status=score.status,
            status_text=domain.RAG_TEXT[score.status],
        )
        for score in scores
    ]
    return Scorecard(
        period=period_out(period),
        service_area=service_area,
        amber_band_percent=config.amber_band_percent,
        rows=rows,
    )


async def kpis(
    session: AsyncSession,
    *,
    period: Period,
    by: Breakdown,
    service_area: str | None,
    config: KpiConfig,
) -> KpiTable:
    """Every metric of the design, whole or broken down by channel or service area."""
    group = [] if by is Breakdown.none else [by.value]
    figures = await _figures(
        session, period, by=group, service_area=service_area, commitments=config.sla_commitments
    )
    found = domain.breakdown(
        figures, by, call_channels=config.call_channels, online_channels=config.online_channels
    )
    rows = [
        KpiRow(
            kpi=kpi,
            title=domain.METRICS[kpi].title,
            unit=domain.METRICS[kpi].unit,
            channel=key if by is Breakdown.channel else None,
            service_area=_area(key) if by is Breakdown.service_area else service_area,
            numerator=measure.numerator,
            denominator=measure.denominator,
            value=measure.value,
        )
        for key, measures in found.items()
        for kpi, measure in measures.items()
    ]
    return KpiTable(period=period_out(period), by=by, rows=rows)


async def sla_compliance(
    session: AsyncSession,
    *,
    period: Period,
    interval: Interval,
    commitment: str | None,
    service_area: str | None,
) -> SlaCompliance:
    """met / (met + breached) per commitment, for deadlines falling in each slice."""
    filters = {"service_area": service_area, "commitment": commitment}
    rows: list[SlaTotals] = []
    for start, end in _reads(period, interval):
        # Each slice read on its own (whole months come from the monthly roll-up); by day,
        # one read grouped by the day.
        group = ["due_on", "commitment"] if interval is Interval.day else ["commitment"]
        part = await repository.totals(
            session, SlaTotals, start=start, end=end, group_by=group, filters=filters
        )
        rows += [row if row.due_on is not None else replace(row, due_on=start) for row in part]
    out = [
        SlaRow(**asdict(found), compliance_percent=found.percent)
        for found in domain.compliance_by_commitment(rows, period, interval)
    ]
    return SlaCompliance(period=period_out(period), interval=interval, rows=out)


async def wait_times(
    session: AsyncSession,
    *,
    period: Period,
    interval: Interval,
    channel: str,
    service_area: str | None,
    config: KpiConfig,
) -> WaitTimes:
    """Mean, median, 90th percentile and longest wait, service level and abandonment."""
    calls, waits = await _call_totals(session, period, interval, channel, service_area)
    mean_target, _ = config.target("call-wait-mean", period.financial_year)
    max_target, _ = config.target("call-wait-max", period.financial_year)
    out = []
    for start, end in domain.slices(period, interval):
        found = domain.call_waits(
            _offered_in(calls, start, end), domain.wait_histogram(_offered_in(waits, start, end))
        )
        out.append(
            WaitRow(
                channel=channel,
                start=start,
                end=end,
                **asdict(found),
                mean_target_seconds=mean_target,
                max_target_seconds=max_target,
            )
        )
    return WaitTimes(period=period_out(period), interval=interval, rows=out)


_Offered = TypeVar("_Offered", CallTotals, CallWaitTotals)


def _offered_in(rows: Sequence[_Offered], start: date, end: date) -> list[_Offered]:
    return [row for row in rows if row.offered_on is not None and start <= row.offered_on <= end]


async def _call_totals(
    session: AsyncSession,
    period: Period,
    interval: Interval,
    channel: str,
    service_area: str | None,
) -> tuple[list[CallTotals], list[CallWaitTotals]]:
    """A channel's calls, and its wait histogram, read once per slice (or once, by day)."""
    calls: list[CallTotals] = []
    waits: list[CallWaitTotals] = []
    by_day = interval is Interval.day
    for start, end in _reads(period, interval):
        part = await repository.totals(
            session,
            CallTotals,
            start=start,
            end=end,
            group_by=["offered_on", "in_office_hours"] if by_day else ["in_office_hours"],
            filters={"channel": channel, "service_area": service_area},
        )
        calls += [row if by_day else replace(row, offered_on=start) for row in part]
        # The histogram is per channel, not per service area: percentiles are the channel's.
        if service_area is None:
            histogram = await repository.totals(
                session,
                CallWaitTotals,
                start=start,
                end=end,
                group_by=["offered_on", "wait_second"] if by_day else ["wait_second"],
                filters={"channel": channel},
            )
            waits += [row if by_day else replace(row, offered_on=start) for row in histogram]
    return calls, waits


async def _volumes(
    session: AsyncSession, period: Period, service_area: str | None
) -> tuple[dict[str, int], dict[str | None, int]]:
    """Contacts by channel, and enquiries by channel."""
    start, end, filters = period.start, period.end, {"service_area": service_area}
    enquiries = await repository.totals(
        session, EnquiryTotals, start=start, end=end, group_by=["channel"], filters=filters
    )
    calls = await repository.totals(
        session, CallTotals, start=start, end=end, group_by=["channel"], filters=filters
    )
    visits = await repository.totals(session, VisitTotals, start=start, end=end, filters=filters)
    contacts = domain.contacts_by_channel(enquiries, calls, visits)
    return contacts, domain.opened_by_channel(enquiries)


async def channels(
    session: AsyncSession, *, period: Period, service_area: str | None, config: KpiConfig
) -> Channels:
    """Volume and cost by channel, and the shift from the period before."""
    previous = domain.previous_period(period)
    contacts, enquiries = await _volumes(session, period, service_area)
    before, _ = await _volumes(session, previous, service_area)
    rows = [
        ChannelRow(**asdict(shift), enquiries=domain.enquiries_of(shift.channel, enquiries))
        for shift in domain.channel_mix(contacts, before, config.unit_costs)
    ]
    return Channels(period=period_out(period), previous_period=period_out(previous), rows=rows)


async def breaches(
    session: AsyncSession,
    *,
    service_area: str | None,
    limit: int,
    timezone: ZoneInfo,
    commitment: str | None = None,
    period: Period | None = None,
    after: tuple[datetime, UUID] | None = None,
    now: datetime | None = None,
) -> Breaches:
    """A page of the open breaches, the longest overdue first, with how many there are; each
    overdue as of `now` (the time of asking unless given)."""
    now = now or datetime.now(UTC)
    due_from, due_to = (None, None) if period is None else domain.due_window(period, timezone)
    where = repository.BreachFilter(
        commitment=commitment, service_area=service_area, due_from=due_from, due_to=due_to
    )
    found = await repository.open_breaches(session, **where, limit=limit + 1, after=after)
    page = found[:limit]
    rows = [
        BreachRow(
            clock_id=b.clock_id,
            commitment=b.commitment,
            contact_type=b.contact_type,
            contact_id=b.contact_id,
            channel=b.channel,
            service_area=_area(b.service_area),
            started_at=b.started_at,
            due_at=b.due_at,
            breached_at=b.breached_at,
            overdue_seconds=domain.overdue_seconds(b.due_at, now),
        )
        for b in page
    ]
    more = len(found) > limit
    return Breaches(
        count=await repository.count_open_breaches(session, **where),
        rows=rows,
        next_cursor=domain.encode_breach_cursor(page[-1].due_at, page[-1].clock_id)
        if more
        else None,
    )


def _reads(period: Period, interval: Interval) -> list[tuple[date, date]]:
    """The reads a figure over time makes: one per slice, or the whole period for days."""
    if interval is Interval.day:
        return [(period.start, period.end)]
    return domain.slices(period, interval)


def default_period(today: date) -> Period:
    """The financial year in progress."""
    return domain.financial_year(domain.financial_year_start(today))
