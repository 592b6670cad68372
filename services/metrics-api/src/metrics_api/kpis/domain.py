"""Pure KPI arithmetic: periods (UK financial years and quarters), rates, percentiles from a wait
histogram, red/amber/green against a target, cost and channel shift."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from metrics_api.readmodel.domain import WAIT_OVERFLOW_SECOND

MAX_PERIOD_DAYS = 3660
_FINANCIAL_YEAR = re.compile(r"^(\d{4})-(\d{2})(?:-Q([1-4]))?$")


class PeriodError(ValueError):
    """A period that cannot be read; the message says how to write one."""


class Interval(StrEnum):
    """How a period is cut for figures over time."""

    none = "none"
    day = "day"
    month = "month"


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
                if column.endswith("_max"):
                    into[column] = max(into[column], value)  # type: ignore[type-var]
                else:
                    into[column] = into[column] + value  # type: ignore[operator]
    return list(merged.values())
