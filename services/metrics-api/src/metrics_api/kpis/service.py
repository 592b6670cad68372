"""KPI questions answered from the read models: keyword-only functions taking a session."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from metrics_api.config import Settings
from metrics_api.kpis import domain, repository
from metrics_api.kpis.domain import Direction, Interval, Period
from metrics_api.kpis.schemas import (
    Breaches,
    BreachRow,
    Breakdown,
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

STAGES = ("stage_1", "stage_2", "ombudsman")
CALL_VOLUME_CHANNELS = ("phone", "standby")
VISIT_CHANNEL = "face_to_face"
ALL_CHANNELS = (
    "phone",
    "email",
    "web_form",
    "portal",
    "face_to_face",
    "letter",
    "voicemail",
    "social_media",
    "chat",
    "standby",
)


@dataclass(frozen=True)
class KpiConfig:
    """What the KPIs depend on from the settings."""

    timezone: ZoneInfo
    online_channels: tuple[str, ...] = ("web_form", "portal")
    call_channels: tuple[str, ...] = ("phone",)
    unit_costs: dict[str, float] = field(default_factory=dict)
    targets: dict[str, dict[str, float]] = field(default_factory=dict)
    amber_band_percent: float = 5.0

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
        )

    def target(self, kpi: str, year: str) -> tuple[float | None, str | None]:
        """A KPI's target for a financial year and the year it was set for."""
        return domain.target_for(self.targets.get(kpi, {}), year)


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


def _total(rows: Iterable[dict[str, Any]], column: str, **where: Any) -> float:
    total = 0
    for row in rows:
        if all(
            (row[k] in v) if isinstance(v, tuple | list | set) else row[k] == v
            for k, v in where.items()
        ):
            total += row[column]
    return total


def _maximum(rows: Iterable[dict[str, Any]], column: str, **where: Any) -> float | None:
    # Only rows with answered calls have a longest wait (the others read 0).
    values = [
        row[column]
        for row in rows
        if all(
            (row[k] in v) if isinstance(v, tuple | list | set) else row[k] == v
            for k, v in where.items()
        )
        and row.get("answered", 1)
    ]
    return max(values) if values else None


@dataclass
class _Figures:
    """The counters a period's KPIs are computed from, grouped by channel (and stage)."""

    enquiries: list[dict[str, Any]]
    feedback: list[dict[str, Any]]
    complaints: list[dict[str, Any]]
    calls: list[dict[str, Any]]
    sla: list[dict[str, Any]]
    visits: list[dict[str, Any]]


def _unique(*columns: str) -> list[str]:
    return list(dict.fromkeys(columns))


async def _figures(
    session: AsyncSession, period: Period, *, by: Sequence[str], service_area: str | None
) -> _Figures:
    async def total(table: str, *group: str) -> list[dict[str, Any]]:
        return await repository.sum_counters(
            session,
            table,
            start=period.start,
            end=period.end,
            group_by=_unique(*group),
            filters={"service_area": service_area},
        )

    return _Figures(
        enquiries=await total("enquiry_day", *by, "channel"),
        feedback=await total("feedback_day", *by, "channel"),
        complaints=await total("complaint_day", *by, "stage"),
        calls=await total("call_day", *by, "channel", "in_office_hours"),
        sla=await total("sla_day", *by),
        visits=await total("visit_day", *(b for b in by if b != "channel")),
    )


# The score card: (kpi, title, unit, direction).
SCORECARD = (
    ("CX02", "Average satisfaction score for online services (1-5)", "score", "higher"),
    ("CX03", "Enquiries submitted via the portal", "percent", "higher"),
    ("CX04", "Calls with first point resolution", "percent", "higher"),
    ("CX04-all", "Enquiries on every channel resolved at first point", "percent", "higher"),
    ("CX06-stage_1", "Complaints fully upheld at stage one", "percent", "lower"),
    ("CX06-stage_2", "Complaints fully upheld at stage two", "percent", "lower"),
    ("CX06-ombudsman", "Complaints fully upheld by the ombudsman (LGSCO)", "percent", "lower"),
    ("call-wait-mean", "Mean wait of answered calls", "seconds", "lower"),
    ("call-wait-max", "Longest wait of an answered call", "seconds", "lower"),
    ("SLA", "Service commitments met (all commitments)", "percent", "higher"),
)


def _core(figures: _Figures, config: KpiConfig, **where: Any) -> dict[str, tuple[Any, Any, Any]]:
    """(numerator, denominator, actual) of each score card KPI, for rows matching `where`."""
    e, f, c, calls, s = (
        figures.enquiries,
        figures.feedback,
        figures.complaints,
        figures.calls,
        figures.sla,
    )
    opened = _total(e, "opened", **where)
    portal = _total(e, "opened", **{**where, "channel": "portal"})
    call_where = dict(where)
    if "channel" not in where:
        call_where["channel"] = config.call_channels
    call_opened = _total(e, "opened", **call_where)
    call_first = _total(e, "first_point", **call_where)
    first = _total(e, "first_point", **where)
    online = dict(where)
    if "channel" not in where:
        online["channel"] = config.online_channels
    score_sum = _total(f, "score_sum", **online)
    responses = _total(f, "responses", **online)
    answered = _total(calls, "answered", **call_where)
    wait_sum = _total(calls, "wait_seconds_sum", **call_where)
    met = _total(s, "met", **where)
    breached = _total(s, "breached", **where)
    result: dict[str, tuple[Any, Any, Any]] = {
        "CX02": (score_sum, responses, domain.mean(score_sum, responses)),
        "CX03": (portal, opened, domain.percent(portal, opened)),
        "CX04": (call_first, call_opened, domain.percent(call_first, call_opened)),
        "CX04-all": (first, opened, domain.percent(first, opened)),
        "call-wait-mean": (round(wait_sum, 2), answered, domain.mean(wait_sum, answered)),
        "call-wait-max": (None, answered, _maximum(calls, "wait_seconds_max", **call_where)),
        "SLA": (met, met + breached, domain.percent(met, met + breached)),
    }
    for stage in STAGES:
        upheld = _total(c, "upheld", **{**where, "stage": stage})
        decided = _total(c, "decided", **{**where, "stage": stage})
        result[f"CX06-{stage}"] = (upheld, decided, domain.percent(upheld, decided))
    return result


async def scorecard(
    session: AsyncSession, *, period: Period, service_area: str | None, config: KpiConfig
) -> Scorecard:
    """Each KPI with its target for the period's financial year, the actual and its status."""
    figures = await _figures(session, period, by=(), service_area=service_area)
    values = _core(figures, config)
    rows = []
    for kpi, title, unit, better in SCORECARD:
        numerator, denominator, actual = values[kpi]
        target, target_year = config.target(kpi, period.financial_year)
        direction = Direction.higher_is_better if better == "higher" else Direction.lower_is_better
        status = domain.rag(actual, target, direction, config.amber_band_percent)
        rows.append(
            ScorecardRow(
                kpi=kpi,
                title=title,
                unit=unit,
                direction=direction,
                target=target,
                target_year=target_year,
                actual=actual,
                numerator=numerator,
                denominator=denominator,
                status=status,
                status_text=domain.RAG_TEXT[status],
            )
        )
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
    figures = await _figures(session, period, by=group, service_area=service_area)
    keys: set[str | None] = {None}
    if by is not Breakdown.none:
        keys = {
            row[by.value]
            for rows in (figures.enquiries, figures.feedback, figures.complaints, figures.calls)
            for row in rows
        } | {row[by.value] for row in figures.sla}
        if by is Breakdown.channel and any(row["arrived"] for row in figures.visits):
            keys.add(VISIT_CHANNEL)
    titles = {kpi: title for kpi, title, _, _ in SCORECARD}
    units = {kpi: unit for kpi, _, unit, _ in SCORECARD}
    rows: list[KpiRow] = []
    for key in sorted(keys, key=lambda k: k or ""):
        where = {} if key is None else {by.value: key}
        values = _core(figures, config, **where)
        extra = _extra(figures, config, by=by, where=where)
        channel = key if by is Breakdown.channel else None
        area = _area(key) if by is Breakdown.service_area else service_area
        for kpi, (numerator, denominator, value) in {**values, **extra}.items():
            if by is Breakdown.channel and kpi in ("CX03", "CX04"):
                continue  # a channel's share is the channel mix; CX04 for it is CX04-all
            if by is Breakdown.channel and kpi == "CX02" and key not in config.online_channels:
                continue
            if not denominator and value is None and by is not Breakdown.none:
                continue
            title, unit = extra_titles.get(kpi, (titles.get(kpi, kpi), units.get(kpi, "count")))
            rows.append(
                KpiRow(
                    kpi=kpi,
                    title=title,
                    unit=unit,
                    channel=channel,
                    service_area=area,
                    numerator=numerator,
                    denominator=denominator,
                    value=value,
                )
            )
    return KpiTable(period=period_out(period), by=by, rows=rows)


extra_titles = {
    "service-level": ("Office-hours calls answered within the target (15 s)", "percent"),
    "abandonment-rate": ("Calls abandoned, short abandons included", "percent"),
    "calls-offered": ("Calls offered", "count"),
    "reception-attend": ("Visitors seen within 5 minutes", "percent"),
    "visit-wait-mean": ("Mean wait of visitors seen", "seconds"),
    "complaints-received": ("Complaints received", "count"),
    "complaint-extensions": ("Complaint response deadlines extended", "count"),
    "feedback-responses": ("Satisfaction scores given (every channel)", "count"),
}


def _extra(
    figures: _Figures, config: KpiConfig, *, by: Breakdown, where: dict[str, Any]
) -> dict[str, tuple[Any, Any, Any]]:
    calls = figures.calls
    call_where = dict(where)
    if "channel" not in where:
        call_where["channel"] = config.call_channels
    office = {**call_where, "in_office_hours": True}
    within = _total(calls, "answered_within_target", **office)
    sl_calls = (
        _total(calls, "answered", **office)
        + _total(calls, "abandoned", **office)
        - _total(calls, "short_abandoned", **office)
    )
    offered = _total(calls, "offered", **call_where)
    abandoned = _total(calls, "abandoned", **call_where)
    result: dict[str, tuple[Any, Any, Any]] = {
        "service-level": (within, sl_calls, domain.percent(within, sl_calls)),
        "abandonment-rate": (abandoned, offered, domain.percent(abandoned, offered)),
        "calls-offered": (offered, None, offered),
        "complaints-received": (None, None, _total(figures.complaints, "received", **where)),
        "complaint-extensions": (None, None, _total(figures.complaints, "extended", **where)),
        "feedback-responses": (None, None, _total(figures.feedback, "responses", **where)),
    }
    if by is not Breakdown.channel or where.get("channel") == VISIT_CHANNEL:
        visit_where = {k: v for k, v in where.items() if k != "channel"}
        v = figures.visits
        seen = _total(v, "attended", **visit_where)
        in_time = _total(v, "attended_within_target", **visit_where)
        wait = _total(v, "wait_seconds_sum", **visit_where)
        result["reception-attend"] = (in_time, seen, domain.percent(in_time, seen))
        result["visit-wait-mean"] = (round(wait, 2), seen, domain.mean(wait, seen))
    if by is Breakdown.channel and where.get("channel") not in CALL_VOLUME_CHANNELS:
        for kpi in ("service-level", "abandonment-rate", "calls-offered"):
            result.pop(kpi)
    return result


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
    rows: list[dict[str, Any]] = []
    for start, end in _reads(period, interval):
        # Each slice read on its own (whole months come from the monthly roll-up); by day,
        # one read grouped by the day.
        group = ["due_on", "commitment"] if interval is Interval.day else ["commitment"]
        part = await repository.sum_counters(
            session, "sla_day", start=start, end=end, group_by=group, filters=filters
        )
        rows += [{"due_on": start, **row} if "due_on" not in row else row for row in part]
    commitments = sorted({row["commitment"] for row in rows})
    out: list[SlaRow] = []
    for start, end in domain.slices(period, interval):
        part = [row for row in rows if start <= row["due_on"] <= end]
        for name in [*commitments, "all"]:
            chosen = part if name == "all" else [r for r in part if r["commitment"] == name]
            met = int(_total(chosen, "met"))
            breached = int(_total(chosen, "breached"))
            if name != "all" and not (met or breached) and interval is not Interval.none:
                continue
            out.append(
                SlaRow(
                    commitment=name,
                    start=start,
                    end=end,
                    met=met,
                    breached=breached,
                    compliance_percent=domain.percent(met, met + breached),
                )
            )
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
    calls: list[dict[str, Any]] = []
    histogram: list[dict[str, Any]] = []
    by_day = interval is Interval.day
    for start, end in _reads(period, interval):
        part = await repository.sum_counters(
            session,
            "call_day",
            start=start,
            end=end,
            group_by=["offered_on", "in_office_hours"] if by_day else ["in_office_hours"],
            filters={"channel": channel, "service_area": service_area},
        )
        calls += [row if by_day else {"offered_on": start, **row} for row in part]
        # The histogram is per channel, not per service area: percentiles are the channel's.
        if service_area is None:
            part = await repository.sum_counters(
                session,
                "call_wait_day",
                start=start,
                end=end,
                group_by=["offered_on", "wait_second"] if by_day else ["wait_second"],
                filters={"channel": channel},
            )
            histogram += [row if by_day else {"offered_on": start, **row} for row in part]
    mean_target, _ = config.target("call-wait-mean", period.financial_year)
    max_target, _ = config.target("call-wait-max", period.financial_year)
    out = []
    for start, end in domain.slices(period, interval):
        part = [row for row in calls if start <= row["offered_on"] <= end]
        office = [row for row in part if row["in_office_hours"]]
        buckets: dict[int, int] = defaultdict(int)
        for row in histogram:
            if start <= row["offered_on"] <= end:
                buckets[row["wait_second"]] += row["answered"]
        answered = int(_total(part, "answered"))
        abandoned = int(_total(part, "abandoned"))
        offered = int(_total(part, "offered"))
        within = int(_total(office, "answered_within_target"))
        sl_calls = int(
            _total(office, "answered")
            + _total(office, "abandoned")
            - _total(office, "short_abandoned")
        )
        longest = _maximum(part, "wait_seconds_max")
        out.append(
            WaitRow(
                channel=channel,
                start=start,
                end=end,
                offered=offered,
                answered=answered,
                abandoned=abandoned,
                short_abandoned=int(_total(part, "short_abandoned")),
                abandonment_rate_percent=domain.percent(abandoned, offered),
                service_level_calls=sl_calls,
                answered_within_target=within,
                service_level_percent=domain.percent(within, sl_calls),
                mean_wait_seconds=domain.mean(_total(part, "wait_seconds_sum"), answered),
                median_wait_seconds=domain.percentile(buckets, 0.5, maximum=longest),
                p90_wait_seconds=domain.percentile(buckets, 0.9, maximum=longest),
                max_wait_seconds=longest,
                mean_target_seconds=mean_target,
                max_target_seconds=max_target,
            )
        )
    return WaitTimes(period=period_out(period), interval=interval, rows=out)


async def _volumes(
    session: AsyncSession, period: Period, service_area: str | None
) -> tuple[dict[str, int], dict[str, int]]:
    span: dict[str, Any] = {"start": period.start, "end": period.end}
    filters = {"service_area": service_area}
    enquiries = await repository.sum_counters(
        session, "enquiry_day", group_by=["channel"], filters=filters, **span
    )
    calls = await repository.sum_counters(
        session, "call_day", group_by=["channel"], filters=filters, **span
    )
    visits = await repository.sum_counters(session, "visit_day", filters=filters, **span)
    by_enquiry = {row["channel"]: int(row["opened"]) for row in enquiries}
    contacts: dict[str, int] = {}
    for channel in ALL_CHANNELS:
        if channel in CALL_VOLUME_CHANNELS:
            contacts[channel] = int(_total(calls, "offered", channel=channel))
        elif channel == VISIT_CHANNEL:
            contacts[channel] = int(_total(visits, "arrived"))
        else:
            contacts[channel] = by_enquiry.get(channel, 0)
    return contacts, by_enquiry


async def channels(
    session: AsyncSession, *, period: Period, service_area: str | None, config: KpiConfig
) -> Channels:
    """Volume and cost by channel, and the shift from the period before."""
    previous = domain.previous_period(period)
    contacts, enquiries = await _volumes(session, period, service_area)
    before, _ = await _volumes(session, previous, service_area)
    total = sum(contacts.values())
    rows = []
    for channel in ALL_CHANNELS:
        unit = config.unit_costs.get(channel)
        rows.append(
            ChannelRow(
                channel=channel,
                contacts=contacts[channel],
                share_percent=domain.percent(contacts[channel], total),
                enquiries=enquiries.get(channel, 0),
                unit_cost=unit,
                cost=domain.cost(contacts[channel], unit or 0),
                previous_contacts=before[channel],
                previous_cost=domain.cost(before[channel], unit or 0),
                change_percent=domain.change_percent(contacts[channel], before[channel]),
            )
        )
    previous_total = sum(before.values())
    rows.append(
        ChannelRow(
            channel="all",
            contacts=total,
            share_percent=domain.percent(total, total),
            enquiries=sum(enquiries.values()),
            unit_cost=None,
            cost=round(sum(r.cost for r in rows), 2),
            previous_contacts=previous_total,
            previous_cost=round(sum(r.previous_cost for r in rows), 2),
            change_percent=domain.change_percent(total, previous_total),
        )
    )
    return Channels(period=period_out(period), previous_period=period_out(previous), rows=rows)


async def breaches(
    session: AsyncSession,
    *,
    commitment: str | None,
    service_area: str | None,
    period: Period | None,
    limit: int,
    now: datetime,
    timezone: ZoneInfo,
) -> Breaches:
    """The open breaches, the longest overdue first."""
    due_from = due_to = None
    if period is not None:
        due_from = datetime.combine(period.start, time(0), tzinfo=timezone)
        due_to = datetime.combine(period.end + timedelta(days=1), time(0), tzinfo=timezone)
    found = await repository.open_breaches(
        session,
        commitment=commitment,
        service_area=service_area,
        due_from=due_from,
        due_to=due_to,
        limit=limit,
    )
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
            overdue_seconds=round((now - b.due_at).total_seconds(), 3),
        )
        for b in found
    ]
    return Breaches(count=len(rows), rows=rows)


def _reads(period: Period, interval: Interval) -> list[tuple[date, date]]:
    """The reads a figure over time makes: one per slice, or the whole period for days."""
    if interval is Interval.day:
        return [(period.start, period.end)]
    return domain.slices(period, interval)


def default_period(today: date) -> Period:
    """The financial year in progress."""
    return domain.financial_year(domain.financial_year_start(today))
