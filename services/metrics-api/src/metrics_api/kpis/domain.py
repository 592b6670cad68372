"""Pure KPI arithmetic: periods (UK financial years and quarters), rates, percentiles from a wait
histogram, red/amber/green against a target, cost and channel shift, and every metric of the
design (DESIGN.md, Metrics) from the read models' counters summed over a period."""

from __future__ import annotations

import base64
import math
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from metrics_api.readmodel.domain import (
    WAIT_OVERFLOW_SECOND,
    CallDayCounts,
    CallWaitDayCounts,
    ComplaintDayCounts,
    EnquiryDayCounts,
    FeedbackDayCounts,
    SlaDayCounts,
    VisitDayCounts,
)

_Row = TypeVar("_Row")

MAX_PERIOD_DAYS = 3660
_FINANCIAL_YEAR = re.compile(r"^(\d{4})-(\d{2})(?:-Q([1-4]))?$")


class PeriodError(ValueError):
    """A period that cannot be read; the message says how to write one."""


class Interval(StrEnum):
    """How a period is cut for figures over time."""

    none = "none"
    day = "day"
    month = "month"


class Breakdown(StrEnum):
    """What KPI rows are broken down by: a column every counter table but visits has."""

    none = "none"
    channel = "channel"
    service_area = "service_area"


@dataclass(frozen=True, slots=True)
class Period:
    """Local dates from `start` to `end`, both included."""

    start: date
    end: date
    label: str
    kind: str  # financial_year, quarter or range

    @property
    def days(self) -> int:
        """How many days the period has."""
        return (self.end - self.start).days + 1

    @property
    def financial_year(self) -> str:
        """The financial year the period starts in: whose targets apply."""
        return financial_year_label(financial_year_start(self.start))


def financial_year_start(day: date) -> int:
    """The calendar year in which the UK financial year containing `day` began (April)."""
    return day.year if day.month >= 4 else day.year - 1


def financial_year_label(start_year: int) -> str:
    """`2026-27` for the year from 1 April 2026 to 31 March 2027."""
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def financial_year(start_year: int) -> Period:
    """The UK financial year from 1 April `start_year` to 31 March the year after."""
    return Period(
        date(start_year, 4, 1),
        date(start_year + 1, 3, 31),
        financial_year_label(start_year),
        "financial_year",
    )


def quarter(start_year: int, number: int) -> Period:
    """Quarter `number` of a financial year: Q1 April-June ... Q4 January-March."""
    first_month = 4 + 3 * (number - 1)
    year = start_year + (first_month - 1) // 12
    month = (first_month - 1) % 12 + 1
    start = date(year, month, 1)
    end = _add_months(start, 3) - timedelta(days=1)
    return Period(start, end, f"{financial_year_label(start_year)}-Q{number}", "quarter")


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def parse_period(text: str) -> Period:
    """`2026-27` (a financial year) or `2026-27-Q1` (its first quarter, April to June)."""
    match = _FINANCIAL_YEAR.match(text.strip())
    if match is None:
        raise PeriodError(
            "write a financial year as 2026-27 or a quarter as 2026-27-Q1 (Q1 is April-June)"
        )
    start_year, end_suffix, number = int(match[1]), int(match[2]), match[3]
    if (start_year + 1) % 100 != end_suffix:
        raise PeriodError(
            f"{text} is not a financial year: after {start_year} comes "
            f"{financial_year_label(start_year)}"
        )
    if number is None:
        return financial_year(start_year)
    return quarter(start_year, int(number))


def date_range(start: date, end: date) -> Period:
    """The days from `start` to `end`, both included."""
    if end < start:
        raise PeriodError("to must not be before from")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise PeriodError(f"a period may span at most {MAX_PERIOD_DAYS} days")
    return Period(start, end, f"{start.isoformat()}..{end.isoformat()}", "range")


def previous_period(period: Period) -> Period:
    """What a period is compared with: the financial year or quarter before, or for any other
    range the same number of days immediately before it."""
    if period.kind == "financial_year":
        return financial_year(financial_year_start(period.start) - 1)
    if period.kind == "quarter":
        number = int(period.label[-1])
        start_year = financial_year_start(period.start)
        return quarter(start_year - 1, 4) if number == 1 else quarter(start_year, number - 1)
    end = period.start - timedelta(days=1)
    start = end - timedelta(days=period.days - 1)
    return Period(start, end, f"{start.isoformat()}..{end.isoformat()}", "range")


def slices(period: Period, interval: Interval) -> list[tuple[date, date]]:
    """The period cut into days or calendar months (clipped to the period), or whole."""
    if interval is Interval.none:
        return [(period.start, period.end)]
    if interval is Interval.day:
        return [(d, d) for d in (period.start + timedelta(days=i) for i in range(period.days))]
    cuts = []
    start = period.start
    while start <= period.end:
        end = min(_add_months(date(start.year, start.month, 1), 1) - timedelta(days=1), period.end)
        cuts.append((start, end))
        start = end + timedelta(days=1)
    return cuts


def percent(numerator: float, denominator: float) -> float | None:
    """numerator / denominator as a percentage to 2 decimals; None with nothing to divide by."""
    if not denominator:
        return None
    return round(100 * numerator / denominator, 2)


def mean(total: float, count: float) -> float | None:
    """total / count to 2 decimals; None with no count."""
    if not count:
        return None
    return round(total / count, 2)


def percentile(
    histogram: Mapping[int, int], fraction: float, *, maximum: float | None = None
) -> float | None:
    """A percentile of whole-second waits from their histogram, interpolating between the two
    nearest ranks (the usual definition: the median of 1, 2, 3, 4 is 2.5). Exact for waits in
    whole seconds under ten minutes; a rank in the 10-minutes-or-more bucket reads as 600 s,
    except the very last, which is the known maximum."""
    counts = sorted((second, count) for second, count in histogram.items() if count > 0)
    total = sum(count for _, count in counts)
    if total == 0:
        return None

    def value_at(rank: int) -> float:
        seen = 0
        for second, count in counts:
            seen += count
            if rank < seen:
                if second >= WAIT_OVERFLOW_SECOND and rank == total - 1 and maximum is not None:
                    return maximum
                return float(second)
        raise AssertionError("rank beyond the histogram")

    position = (total - 1) * fraction
    lower = math.floor(position)
    low = value_at(lower)
    high = value_at(min(lower + 1, total - 1))
    return round(low + (position - lower) * (high - low), 2)


class Direction(StrEnum):
    """Whether a KPI is better higher or lower."""

    higher_is_better = "higher_is_better"
    lower_is_better = "lower_is_better"


class Rag(StrEnum):
    """Red/amber/green, with the two cases where there is nothing to judge."""

    green = "green"
    amber = "amber"
    red = "red"
    no_data = "no_data"
    no_target = "no_target"


RAG_TEXT = {
    Rag.green: "On target",
    Rag.amber: "Near target",
    Rag.red: "Off target",
    Rag.no_data: "No data",
    Rag.no_target: "No target set",
}


def rag(
    actual: float | None, target: float | None, direction: Direction, amber_band_percent: float
) -> Rag:
    """Green on or beyond target; amber if it misses by no more than the band (a share of the
    target); red otherwise."""
    if target is None:
        return Rag.no_target
    if actual is None:
        return Rag.no_data
    band = abs(target) * amber_band_percent / 100
    if direction is Direction.higher_is_better:
        if actual >= target:
            return Rag.green
        return Rag.amber if actual >= target - band else Rag.red
    if actual <= target:
        return Rag.green
    return Rag.amber if actual <= target + band else Rag.red


def target_for(targets: Mapping[str, float], year: str) -> tuple[float | None, str | None]:
    """A KPI's target for a financial year, and the year it was set for: a year with no target
    of its own keeps the latest earlier one; before the first, there is none."""
    if year in targets:
        return targets[year], year
    earlier = sorted(y for y in targets if y < year)
    if not earlier:
        return None, None
    return targets[earlier[-1]], earlier[-1]


def cost(volume: int, unit_cost: float) -> float:
    """Volume at a unit cost, in pounds to the penny."""
    return round(volume * unit_cost, 2)


def change_percent(current: float, previous: float) -> float | None:
    """The change from `previous` to `current` as a percentage (St Albans: visits down 22%)."""
    if not previous:
        return None
    return round(100 * (current - previous) / previous, 2)


def month_split(start: date, end: date) -> tuple[list[tuple[date, date]], tuple[date, date] | None]:
    """Days to read from the daily tables, and the whole months (as their first days) to read
    from the monthly roll-ups, that together make `start`..`end`."""
    first_full = start if start.day == 1 else _add_months(date(start.year, start.month, 1), 1)
    next_month = _add_months(date(end.year, end.month, 1), 1)
    last_full = (
        end
        if end == next_month - timedelta(days=1)
        else date(end.year, end.month, 1) - timedelta(days=1)
    )
    if first_full > last_full:
        return [(start, end)], None
    days = []
    if start < first_full:
        days.append((start, first_full - timedelta(days=1)))
    if end > last_full:
        days.append((last_full + timedelta(days=1), end))
    return days, (first_full, date(last_full.year, last_full.month, 1))


def merge_totals(
    parts: list[list[dict[str, object]]], group_by: list[str]
) -> list[dict[str, object]]:
    """Adds up rows of the same group from several reads (a `_max` column keeps the largest)."""
    merged: dict[tuple[object, ...], dict[str, object]] = {}
    for rows in parts:
        for row in rows:
            key = tuple(row[name] for name in group_by)
            into = merged.get(key)
            if into is None:
                merged[key] = dict(row)
                continue
            for column, value in row.items():
                if column in group_by:
                    continue
                # Rows are read as object; these columns hold numbers (or times, for a max).
                if column.endswith("_max"):
                    into[column] = max(into[column], value)  # type: ignore[call-overload]
                else:
                    into[column] = into[column] + value  # type: ignore[operator]
    return list(merged.values())


# -- what the metrics are computed from: counters summed over a period -----------------------------
# Each is a counter table's counters and the key columns they were grouped by (None if not).


@dataclass(slots=True, kw_only=True)
class EnquiryTotals(EnquiryDayCounts):
    """Enquiries received in a period."""

    channel: str | None = None
    service_area: str | None = None


@dataclass(slots=True, kw_only=True)
class CallTotals(CallDayCounts):
    """Calls offered in a period (or on `offered_on`)."""

    offered_on: date | None = None
    channel: str | None = None
    service_area: str | None = None
    in_office_hours: bool | None = None


@dataclass(slots=True, kw_only=True)
class CallWaitTotals(CallWaitDayCounts):
    """Answered calls offered in a period (or on `offered_on`) that waited `wait_second`."""

    offered_on: date | None = None
    channel: str | None = None
    wait_second: int | None = None


@dataclass(slots=True, kw_only=True)
class VisitTotals(VisitDayCounts):
    """Visitors who arrived in a period."""

    service_area: str | None = None


@dataclass(slots=True, kw_only=True)
class FeedbackTotals(FeedbackDayCounts):
    """Satisfaction scores given in a period."""

    channel: str | None = None
    service_area: str | None = None


@dataclass(slots=True, kw_only=True)
class ComplaintTotals(ComplaintDayCounts):
    """Complaint steps taken in a period."""

    channel: str | None = None
    service_area: str | None = None
    stage: str | None = None


@dataclass(slots=True, kw_only=True)
class SlaTotals(SlaDayCounts):
    """Clocks whose deadline fell in a period (or on `due_on`)."""

    due_on: date | None = None
    commitment: str | None = None
    channel: str | None = None
    service_area: str | None = None


@dataclass(frozen=True, slots=True)
class Figures:
    """The counters a period's metrics are computed from."""

    enquiries: Sequence[EnquiryTotals] = ()
    feedback: Sequence[FeedbackTotals] = ()
    complaints: Sequence[ComplaintTotals] = ()
    calls: Sequence[CallTotals] = ()
    sla: Sequence[SlaTotals] = ()
    visits: Sequence[VisitTotals] = ()

    def only(self, by: Breakdown, key: str) -> Figures:
        """The figures of one channel or one service area. Visits have no channel: those of
        the one visit channel, face to face, are all of them."""

        def of(rows: Sequence[_Row]) -> list[_Row]:
            return [row for row in rows if getattr(row, by.value) == key]

        return Figures(
            enquiries=of(self.enquiries),
            feedback=of(self.feedback),
            complaints=of(self.complaints),
            calls=of(self.calls),
            sla=of(self.sla),
            visits=self.visits if by is Breakdown.channel else of(self.visits),
        )


# -- the metrics -----------------------------------------------------------------------------------

STAGES = ("stage_1", "stage_2", "ombudsman")
PORTAL = "portal"
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


@dataclass(frozen=True, slots=True)
class Metric:
    """A metric of the design: its reference, what it measures, and its unit."""

    kpi: str
    title: str
    unit: str


@dataclass(frozen=True, slots=True)
class ScorecardKpi(Metric):
    """A KPI of the score card, judged against a target."""

    direction: Direction


_HIGHER, _LOWER = Direction.higher_is_better, Direction.lower_is_better
SCORECARD = (
    ScorecardKpi("CX02", "Average satisfaction score for online services (1-5)", "score", _HIGHER),
    ScorecardKpi("CX03", "Enquiries submitted via the portal", "percent", _HIGHER),
    ScorecardKpi("CX04", "Calls with first point resolution", "percent", _HIGHER),
    ScorecardKpi(
        "CX04-all", "Enquiries on every channel resolved at first point", "percent", _HIGHER
    ),
    ScorecardKpi("CX06-stage_1", "Complaints fully upheld at stage one", "percent", _LOWER),
    ScorecardKpi("CX06-stage_2", "Complaints fully upheld at stage two", "percent", _LOWER),
    ScorecardKpi(
        "CX06-ombudsman", "Complaints fully upheld by the ombudsman (LGSCO)", "percent", _LOWER
    ),
    ScorecardKpi("call-wait-mean", "Mean wait of answered calls", "seconds", _LOWER),
    ScorecardKpi("call-wait-max", "Longest wait of an answered call", "seconds", _LOWER),
    ScorecardKpi("SLA", "Service commitments met (all commitments)", "percent", _HIGHER),
)
METRICS: dict[str, Metric] = {
    metric.kpi: metric
    for metric in (
        *SCORECARD,
        Metric(
            "service-level", "Office-hours calls answered within the phone-answer target", "percent"
        ),
        Metric("abandonment-rate", "Calls abandoned, short abandons included", "percent"),
        Metric("calls-offered", "Calls offered", "count"),
        Metric("reception-attend", "Visitors seen within the reception-attend target", "percent"),
        Metric("visit-wait-mean", "Mean wait of visitors seen", "seconds"),
        Metric("complaints-received", "Complaints received", "count"),
        Metric("complaint-extensions", "Complaint response deadlines extended", "count"),
        Metric("feedback-responses", "Satisfaction scores given (every channel)", "count"),
    )
}
"""Every metric, by reference: the score card's KPIs first."""


@dataclass(frozen=True, slots=True)
class Measure:
    """A metric's value and what it is made of: numerator / denominator for a rate or a mean."""

    numerator: float | None
    denominator: float | None
    value: float | None


def rate(numerator: float, denominator: float) -> Measure:
    """numerator / denominator as a percentage."""
    return Measure(numerator, denominator, percent(numerator, denominator))


def average(total: float, count: float) -> Measure:
    """total / count, the total to 2 decimals."""
    return Measure(round(total, 2), count, mean(total, count))


def figure(value: float) -> Measure:
    """A count on its own."""
    return Measure(None, None, value)


def compliance(met: float, breached: float) -> Measure:
    """Commitments met / (met + breached), for deadlines that fell in the period."""
    return rate(met, met + breached)


def longest_wait(calls: Iterable[CallTotals]) -> float | None:
    """The longest wait of an answered call (rows with none answered read 0)."""
    return max((row.wait_seconds_max for row in calls if row.answered), default=None)


def _within_target(calls: Iterable[CallTotals]) -> int:
    return sum(row.answered_within_target for row in calls if row.in_office_hours)


def _service_level_calls(calls: Iterable[CallTotals]) -> int:
    # Office-hours calls answered, or abandoned after the target: a short abandon is not one.
    return sum(
        row.answered + row.abandoned - row.short_abandoned for row in calls if row.in_office_hours
    )


def service_level(calls: Sequence[CallTotals]) -> Measure:
    """Office-hours calls answered within the target / office-hours calls answered or abandoned
    after it."""
    return rate(_within_target(calls), _service_level_calls(calls))


def scorecard_measures(
    figures: Figures, *, call_channels: Collection[str], online_channels: Collection[str]
) -> dict[str, Measure]:
    """Each score card KPI: CX04 is of enquiries by the call channels, CX02 of scores for the
    online channels, the call waits of calls on the call channels."""
    enquiries, complaints = figures.enquiries, figures.complaints
    by_call = [row for row in enquiries if row.channel in call_channels]
    online = [row for row in figures.feedback if row.channel in online_channels]
    calls = [row for row in figures.calls if row.channel in call_channels]
    opened, answered = sum(row.opened for row in enquiries), sum(row.answered for row in calls)
    met, breached = sum(row.met for row in figures.sla), sum(row.breached for row in figures.sla)
    found = {
        "CX02": average(sum(row.score_sum for row in online), sum(row.responses for row in online)),
        "CX03": rate(sum(row.opened for row in enquiries if row.channel == PORTAL), opened),
        "CX04": rate(sum(row.first_point for row in by_call), sum(row.opened for row in by_call)),
        "CX04-all": rate(sum(row.first_point for row in enquiries), opened),
        "call-wait-mean": average(sum(row.wait_seconds_sum for row in calls), answered),
        "call-wait-max": Measure(None, answered, longest_wait(calls)),
        "SLA": compliance(met, breached),
    }
    for stage in STAGES:
        at_stage = [row for row in complaints if row.stage == stage]
        upheld, decided = sum(r.upheld for r in at_stage), sum(r.decided for r in at_stage)
        found[f"CX06-{stage}"] = rate(upheld, decided)
    return found


def measures(
    figures: Figures, *, call_channels: Collection[str], online_channels: Collection[str]
) -> dict[str, Measure]:
    """Every metric of the design, the score card's first."""
    calls = [row for row in figures.calls if row.channel in call_channels]
    offered = sum(row.offered for row in calls)
    visits = figures.visits
    seen = sum(row.attended for row in visits)
    return {
        **scorecard_measures(figures, call_channels=call_channels, online_channels=online_channels),
        "service-level": service_level(calls),
        "abandonment-rate": rate(sum(row.abandoned for row in calls), offered),
        "calls-offered": Measure(offered, None, offered),
        "complaints-received": figure(sum(row.received for row in figures.complaints)),
        "complaint-extensions": figure(sum(row.extended for row in figures.complaints)),
        "feedback-responses": figure(sum(row.responses for row in figures.feedback)),
        "reception-attend": rate(sum(row.attended_within_target for row in visits), seen),
        "visit-wait-mean": average(sum(row.wait_seconds_sum for row in visits), seen),
    }


_CALL_METRICS = {"service-level", "abandonment-rate", "calls-offered"}
_VISIT_METRICS = {"reception-attend", "visit-wait-mean"}


def breakdown(
    figures: Figures,
    by: Breakdown,
    *,
    call_channels: Collection[str],
    online_channels: Collection[str],
) -> dict[str | None, dict[str, Measure]]:
    """Every metric for each channel or service area with figures (or once, for `none`),
    leaving out those a channel or area has nothing to compute from."""
    if by is Breakdown.none:
        whole = measures(figures, call_channels=call_channels, online_channels=online_channels)
        return {None: whole}
    result: dict[str | None, dict[str, Measure]] = {}
    for key in breakdown_keys(figures, by):
        if by is Breakdown.channel:
            found = _channel_measures(figures.only(by, key), key, online=key in online_channels)
        else:
            found = measures(
                figures.only(by, key), call_channels=call_channels, online_channels=online_channels
            )
        result[key] = {k: m for k, m in found.items() if m.denominator or m.value is not None}
    return result


def breakdown_keys(figures: Figures, by: Breakdown) -> list[str]:
    """The channels or service areas with figures, in order."""
    tables = (figures.enquiries, figures.feedback, figures.complaints, figures.calls, figures.sla)
    keys = {getattr(row, by.value) for rows in tables for row in rows}
    if by is Breakdown.channel and any(row.arrived for row in figures.visits):
        keys.add(VISIT_CHANNEL)
    return sorted(keys)


def _channel_measures(figures: Figures, channel: str, *, online: bool) -> dict[str, Measure]:
    """One channel's metrics. Not CX03 and CX04 (a channel's share is the channel mix; CX04 for
    it is CX04-all), CX02 only for an online channel, the call figures only for a channel
    calls come by, the reception figures only face to face."""
    left_out = {"CX03", "CX04"}
    if not online:
        left_out.add("CX02")
    if channel not in CALL_VOLUME_CHANNELS:
        left_out |= _CALL_METRICS
    if channel != VISIT_CHANNEL:
        left_out |= _VISIT_METRICS
    found = measures(figures, call_channels=(channel,), online_channels=(channel,))
    return {kpi: measure for kpi, measure in found.items() if kpi not in left_out}


@dataclass(frozen=True, slots=True)
class Score:
    """A score card KPI judged against its target for the period's financial year."""

    kpi: ScorecardKpi
    measure: Measure
    target: float | None
    target_year: str | None
    status: Rag


def score_card(
    measures: Mapping[str, Measure],
    *,
    targets: Mapping[str, Mapping[str, float]],
    year: str,
    amber_band_percent: float,
) -> list[Score]:
    """Each score card KPI with its target for `year` (the latest set before, if none) and
    its red/amber/green status."""
    scores = []
    for kpi in SCORECARD:
        measure = measures[kpi.kpi]
        target, target_year = target_for(targets.get(kpi.kpi, {}), year)
        status = rag(measure.value, target, kpi.direction, amber_band_percent)
        scores.append(Score(kpi, measure, target, target_year, status))
    return scores


# -- calls, compliance and channels over time ------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CallWaits:
    """A channel's calls over a slice of a period: waits of answered calls, service level and
    abandonment (named as the wait-times table's columns)."""

    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    abandonment_rate_percent: float | None
    service_level_calls: int
    answered_within_target: int
    service_level_percent: float | None
    mean_wait_seconds: float | None
    median_wait_seconds: float | None
    p90_wait_seconds: float | None
    max_wait_seconds: float | None


def wait_histogram(rows: Iterable[CallWaitTotals]) -> dict[int, int]:
    """Answered calls by whole seconds waited (600: ten minutes or more)."""
    histogram: dict[int, int] = defaultdict(int)
    for row in rows:
        if row.wait_second is not None:
            histogram[row.wait_second] += row.answered
    return dict(histogram)


def call_waits(calls: Sequence[CallTotals], histogram: Mapping[int, int]) -> CallWaits:
    """A slice's call figures from its calls, in and out of office hours, and their waits."""
    offered, answered = sum(r.offered for r in calls), sum(r.answered for r in calls)
    abandoned = sum(row.abandoned for row in calls)
    within, of = _within_target(calls), _service_level_calls(calls)
    longest = longest_wait(calls)
    return CallWaits(
        offered=int(offered),
        answered=int(answered),
        abandoned=int(abandoned),
        short_abandoned=int(sum(row.short_abandoned for row in calls)),
        abandonment_rate_percent=percent(abandoned, offered),
        service_level_calls=int(of),
        answered_within_target=int(within),
        service_level_percent=percent(within, of),
        mean_wait_seconds=mean(sum(row.wait_seconds_sum for row in calls), answered),
        median_wait_seconds=percentile(histogram, 0.5, maximum=longest),
        p90_wait_seconds=percentile(histogram, 0.9, maximum=longest),
        max_wait_seconds=longest,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Compliance:
    """Clocks of a commitment ("all": every one) met and breached, by deadlines in a slice."""

    commitment: str
    start: date
    end: date
    met: int
    breached: int

    @property
    def percent(self) -> float | None:
        """met / (met + breached) as a percentage."""
        return compliance(self.met, self.breached).value


def compliance_by_commitment(
    rows: Sequence[SlaTotals], period: Period, interval: Interval
) -> list[Compliance]:
    """For each slice, every commitment with a deadline in it (for the whole period, every
    commitment in it), then all commitments together. Each row needs its `due_on`."""
    commitments = sorted({row.commitment for row in rows if row.commitment is not None})
    found = []
    for start, end in slices(period, interval):
        part = [row for row in rows if row.due_on is not None and start <= row.due_on <= end]
        for name in [*commitments, "all"]:
            chosen = part if name == "all" else [row for row in part if row.commitment == name]
            met, breached = sum(r.met for r in chosen), sum(r.breached for r in chosen)
            if name != "all" and not (met or breached) and interval is not Interval.none:
                continue
            found.append(
                Compliance(
                    commitment=name, start=start, end=end, met=int(met), breached=int(breached)
                )
            )
    return found


def opened_by_channel(enquiries: Iterable[EnquiryTotals]) -> dict[str | None, int]:
    """Enquiries received by channel."""
    return {row.channel: int(row.opened) for row in enquiries}


def contacts_by_channel(
    enquiries: Iterable[EnquiryTotals], calls: Sequence[CallTotals], visits: Iterable[VisitTotals]
) -> dict[str, int]:
    """Contacts by channel: calls offered (phone, standby), visitors at reception (face to
    face), enquiries received (every other channel)."""
    opened = opened_by_channel(enquiries)
    contacts = {}
    for channel in ALL_CHANNELS:
        if channel in CALL_VOLUME_CHANNELS:
            contacts[channel] = int(sum(row.offered for row in calls if row.channel == channel))
        elif channel == VISIT_CHANNEL:
            contacts[channel] = int(sum(row.arrived for row in visits))
        else:
            contacts[channel] = opened.get(channel, 0)
    # A channel a newer producer added, which the read model counted under its name: its
    # enquiries are contacts too (at no unit cost until one is configured).
    for named, count in opened.items():
        if named is not None and named not in contacts:
            contacts[named] = count
    return contacts


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelShift:
    """A channel's contacts and their cost, in a period and the one before (named as the
    channels table's columns)."""

    channel: str
    contacts: int
    share_percent: float | None
    unit_cost: float | None
    cost: float
    previous_contacts: int
    previous_cost: float
    change_percent: float | None


def channel_mix(
    contacts: Mapping[str, int], previous: Mapping[str, int], unit_costs: Mapping[str, float]
) -> list[ChannelShift]:
    """Each channel's share of contacts, cost at its unit cost (none: free) and shift from the
    period before; then "all", whose cost is the channels' costs added up."""
    total, previous_total = sum(contacts.values()), sum(previous.values())
    rows = []
    for channel, count in contacts.items():
        unit, before = unit_costs.get(channel), previous.get(channel, 0)
        rows.append(
            ChannelShift(
                channel=channel,
                contacts=count,
                share_percent=percent(count, total),
                unit_cost=unit,
                cost=cost(count, unit or 0),
                previous_contacts=before,
                previous_cost=cost(before, unit or 0),
                change_percent=change_percent(count, before),
            )
        )
    every = ChannelShift(
        channel="all",
        contacts=total,
        share_percent=percent(total, total),
        unit_cost=None,
        cost=round(sum(row.cost for row in rows), 2),
        previous_contacts=previous_total,
        previous_cost=round(sum(row.previous_cost for row in rows), 2),
        change_percent=change_percent(total, previous_total),
    )
    return [*rows, every]


def enquiries_of(channel: str, opened: Mapping[str | None, int]) -> int:
    """Enquiries received by a channel of the channel mix ("all": every channel's)."""
    return sum(opened.values()) if channel == "all" else opened.get(channel, 0)


# -- open breaches ---------------------------------------------------------------------------------


def due_window(period: Period, timezone: ZoneInfo) -> tuple[datetime, datetime]:
    """The deadlines that fall in a period of local dates: from its first day's local midnight
    up to (not including) the midnight after its last day."""
    start = datetime.combine(period.start, time(0), tzinfo=timezone)
    return start, datetime.combine(period.end + timedelta(days=1), time(0), tzinfo=timezone)


def overdue_seconds(due_at: datetime, now: datetime) -> float:
    """How long past its deadline a breach is, to the millisecond."""
    return round((now - due_at).total_seconds(), 3)


def encode_breach_cursor(due_at: datetime, clock_id: UUID) -> str:
    """An opaque cursor for the position after (due_at, clock_id) in the breaches list."""
    raw = f"{due_at.isoformat()}|{clock_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_breach_cursor(cursor: str) -> tuple[datetime, UUID] | None:
    """The (due_at, clock_id) a breaches cursor stands for; None if it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        due_text, clock_text = base64.urlsafe_b64decode(padded).decode().split("|", 1)
        due_at, clock_id = datetime.fromisoformat(due_text), UUID(clock_text)
    except (ValueError, UnicodeDecodeError):
        return None
    if due_at.tzinfo is None:
        return None
    return due_at, clock_id
