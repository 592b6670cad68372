"""Pure counting rules: which local day a thing counts on, which bucket a wait falls in, and a
tally of counter changes that a batch of events makes (flushed as one upsert per table)."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

WAIT_OVERFLOW_SECOND = 600
"""The wait histogram's last bucket, in whole seconds: every longer wait is counted in it (its
exact maximum is kept apart, in `wait_seconds_max`). A storage layout, not a commitment."""


@dataclass(frozen=True, slots=True)
class CountingRules:
    """The settings counting depends on: the council's zone and two commitments' targets."""

    timezone: ZoneInfo
    phone_answer_seconds: float
    reception_attend_seconds: float


def local_day(at: datetime, timezone: ZoneInfo) -> date:
    """The council's local date of an instant (Europe/London: GMT in winter, BST in summer)."""
    return at.astimezone(timezone).date()


def wait_bucket(wait_seconds: float) -> int:
    """The histogram bucket of a wait: whole seconds waited, 600 for ten minutes or more."""
    return min(math.floor(wait_seconds), WAIT_OVERFLOW_SECOND)


def within(wait_seconds: float, target_seconds: float) -> bool:
    """True if a wait kept a seconds target (DESIGN.md: an abandon within it is a short abandon)."""
    return wait_seconds <= target_seconds


@dataclass
class Tally:
    """Counter changes by table and key, and the largest value seen for `max` columns."""

    sums: dict[str, dict[tuple[object, ...], dict[str, float]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(float)))
    )
    peaks: dict[str, dict[tuple[object, ...], dict[str, float]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(dict))
    )

    def add(self, table: str, key: tuple[object, ...], **deltas: float) -> None:
        """Adds `deltas` to the counters of `key` in `table`."""
        counters = self.sums[table][key]
        for column, delta in deltas.items():
            counters[column] += delta

    def peak(self, table: str, key: tuple[object, ...], column: str, value: float) -> None:
        """Keeps the largest `value` of `column` for `key`."""
        current = self.peaks[table][key].get(column)
        if current is None or value > current:
            self.peaks[table][key][column] = value
        self.sums[table][key]  # noqa: B018  (the key needs a row even with no sums)

    def tables(self) -> list[str]:
        """The tables with changes."""
        return list(self.sums)

    def rows(
        self, table: str
    ) -> list[tuple[tuple[object, ...], dict[str, float], dict[str, float]]]:
        """(key, sums, peaks) for every key of `table`."""
        peaks = self.peaks.get(table, {})
        return [
            (key, dict(sums), dict(peaks.get(key, {}))) for key, sums in self.sums[table].items()
        ]
