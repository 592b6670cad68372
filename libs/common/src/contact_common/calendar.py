"""Working days, office hours and deadlines for the council's service commitments.

The rule implemented here is the one in DESIGN.md, "The commitments":

* A working day is Monday to Friday, not a bank holiday of the configured UK nation
  (``holidays.country_holidays("GB", subdiv="ENG")`` by default) and not a council
  closure day from configuration.
* Office hours default to 09:00-17:00 Europe/London; hours and zone are configurable.
* A contact received on a working day before the office closes (even before it opens)
  is received that day; one received at or after closing, or on a non-working day,
  counts as received on the next working day.
* "N working days" ends at the office's closing time on the Nth working day after the
  receipt day.

All instants are stored in UTC; local time is only used at the edges, so every public
method refuses naive datetimes and every returned instant is UTC-aware.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = ["CalendarError", "OfficeHours", "WorkingCalendar"]

_ONE_DAY = timedelta(days=1)
_CLOSURE = "council closure"
# A year of closures plus weekends cannot hide every working day for this long; if it
# ever does, the configuration is broken and looping on would never end.
_MAX_SEARCH_DAYS = 3660
# Bounded so a long-running service does not grow without limit; a decade of receipt
# days times a month of working-day counts still fits.
_DEADLINE_CACHE_SIZE = 1 << 17


class CalendarError(ValueError):
    """Raised for invalid calendar configuration or arguments."""


@dataclass(frozen=True)
class OfficeHours:
    """Local opening and closing times of the office (same calendar day)."""

    opens: time = time(9)
    closes: time = time(17)

    def __post_init__(self) -> None:
        """Refuse hours that are not a non-empty, zone-free span within one day."""
        if not isinstance(self.opens, time) or not isinstance(self.closes, time):
            raise CalendarError("office hours opens and closes must be datetime.time values")
        # Hours are wall-clock times in the calendar's zone; a zone here would be ambiguous.
        if self.opens.tzinfo is not None or self.closes.tzinfo is not None:
            raise CalendarError(
                "office hours must be naive local times; set the zone on the calendar"
            )
        if self.opens >= self.closes:
            raise CalendarError(
                "office hours must open before they close "
                f"(opens={self.opens}, closes={self.closes})"
            )


def _aware(value: datetime, name: str) -> datetime:
    """Return ``value`` if it is a timezone-aware datetime, else raise CalendarError."""
    if not isinstance(value, datetime):
        raise CalendarError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise CalendarError(
            f"{name} must be timezone-aware (got naive datetime {value.isoformat()})"
        )
    return value


def _day(value: date, name: str) -> date:
    """Return ``value`` if it is a plain date, else raise CalendarError."""
    # datetime subclasses date but never compares equal to one, and its date depends on a zone.
    if type(value) is not date:
        if isinstance(value, datetime):
            raise CalendarError(f"{name} must be a date, not a datetime; convert it with .date()")
        raise CalendarError(f"{name} must be a date, got {type(value).__name__}")
    return value


def _count(value: int, name: str) -> int:
    """Return ``value`` if it is a non-negative int, else raise CalendarError."""
    if type(value) is not int or value < 0:
        raise CalendarError(f"{name} must be a non-negative integer, got {value!r}")
    return value


class WorkingCalendar:
    """Working days and office hours of one council, per DESIGN.md "The commitments"."""

    timezone: ZoneInfo
    office_hours: OfficeHours

    def __init__(
        self,
        *,
        country: str = "GB",
        subdivision: str | None = "ENG",
        closure_days: Iterable[date] = (),
        office_hours: OfficeHours = OfficeHours(),  # noqa: B008 - frozen, so sharing is safe
        timezone: str = "Europe/London",
    ) -> None:
        """Build a calendar; raise CalendarError for an unknown nation, zone or bad hours."""
        if not isinstance(office_hours, OfficeHours):
            raise CalendarError("office_hours must be an OfficeHours")
        try:
            self.timezone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise CalendarError(f"unknown time zone {timezone!r}") from exc
        try:
            # One lazily expanding object for the calendar's lifetime: years are filled in
            # on first access rather than rebuilt per call.
            self._bank_holidays = holidays.country_holidays(country, subdiv=subdivision)
        except (NotImplementedError, KeyError, ValueError, TypeError) as exc:
            raise CalendarError(
                f"unknown country/subdivision {country!r}/{subdivision!r}: {exc}"
            ) from exc
        self.country = country
        self.subdivision = subdivision
        self.office_hours = office_hours
        self.closure_days: frozenset[date] = frozenset(
            _day(d, "closure_days item") for d in closure_days
        )
        self._opens = office_hours.opens
        self._closes = office_hours.closes
        # Per-year holiday names and per-day answers: the holidays object is slow next to a
        # dict hit, and deadline() runs tens of thousands of times a second.
        self._names_by_year: dict[int, dict[date, str]] = {}
        self._working: dict[date, bool] = {}
        self._closing: dict[date, datetime] = {}
        self._opening: dict[date, datetime] = {}
        self._deadline_for_day: Callable[[date, int], datetime] = lru_cache(
            maxsize=_DEADLINE_CACHE_SIZE
        )(self._closing_after)

    def __repr__(self) -> str:
        """Show the configuration, for logs."""
        return (
            f"WorkingCalendar(country={self.country!r}, subdivision={self.subdivision!r}, "
            f"closure_days={len(self.closure_days)}, office_hours={self._opens}-{self._closes}, "
            f"timezone={self.timezone.key!r})"
        )

    # -- days ---------------------------------------------------------------------------

    def _year_names(self, year: int) -> dict[date, str]:
        """Bank holidays and closures of one year, computed once."""
        names = self._names_by_year.get(year)
        if names is None:
            bank = self._bank_holidays
            # Membership test forces the lazy object to populate this year.
            _ = date(year, 1, 1) in bank
            names = {d: str(n) for d, n in bank.items() if d.year == year}
            for d in self.closure_days:
                if d.year == year:
                    names.setdefault(d, _CLOSURE)
            self._names_by_year[year] = names
        return names

    def holiday_name(self, day: date) -> str | None:
        """Bank-holiday name of ``day``, "council closure", or None for an ordinary day."""
        day = _day(day, "day")
        return self._year_names(day.year).get(day)

    def _is_working(self, day: date) -> bool:
        """Unchecked, cached is_working_day for internal hot paths."""
        working = self._working.get(day)
        if working is None:
            working = day.weekday() < 5 and day not in self._year_names(day.year)
            self._working[day] = working
        return working

    def is_working_day(self, day: date) -> bool:
        """True if ``day`` is Monday-Friday, not a bank holiday and not a closure day."""
        return self._is_working(_day(day, "day"))

    def _next(self, day: date) -> date:
        """First working day strictly after ``day`` (unchecked)."""
        try:
            for _ in range(_MAX_SEARCH_DAYS):
                day += _ONE_DAY
                if self._is_working(day):
                    return day
        except OverflowError as exc:
            raise CalendarError(f"no working day after {day} within the date range") from exc
        raise CalendarError(f"no working day within {_MAX_SEARCH_DAYS} days after {day}")

    def next_working_day(self, day: date) -> date:
        """First working day strictly after ``day``."""
        return self._next(_day(day, "day"))

    def _add(self, day: date, working_days: int) -> date:
        """Nth working day strictly after ``day`` (unchecked); ``day`` itself for 0."""
        for _ in range(working_days):
            day = self._next(day)
        return day

    def add_working_days(self, day: date, working_days: int) -> date:
        """The Nth working day strictly after ``day``; ``day`` itself when N is 0."""
        return self._add(_day(day, "day"), _count(working_days, "working_days"))

    def working_days_between(self, start: date, end: date) -> list[date]:
        """Working days from ``start`` to ``end`` inclusive, ascending; empty if start > end."""
        day = _day(start, "start")
        end = _day(end, "end")
        days: list[date] = []
        while day <= end:
            if self._is_working(day):
                days.append(day)
            if day == end:
                break
            day += _ONE_DAY
        return days

    # -- instants -----------------------------------------------------------------------

    def _local_instant(self, day: date, at: time) -> datetime:
        """UTC instant of local wall-clock ``at`` on ``day``."""
        # fold=0 picks the first of a repeated hour and the pre-change offset for a skipped
        # one, matching how zoneinfo reads a wall clock; only matters for odd office hours.
        return datetime.combine(day, at, tzinfo=self.timezone).astimezone(UTC)

    def _closing_at(self, day: date) -> datetime:
        """Cached closing instant of ``day`` (unchecked)."""
        instant = self._closing.get(day)
        if instant is None:
            instant = self._closing[day] = self._local_instant(day, self._closes)
        return instant

    def closing_time(self, day: date) -> datetime:
        """UTC-aware instant the office closes on local date ``day``."""
        return self._closing_at(_day(day, "day"))

    def opening_time(self, day: date) -> datetime:
        """UTC-aware instant the office opens on local date ``day``."""
        day = _day(day, "day")
        instant = self._opening.get(day)
        if instant is None:
            instant = self._opening[day] = self._local_instant(day, self._opens)
        return instant

    def in_office_hours(self, at: datetime) -> bool:
        """True if ``at`` falls on a working day with opens <= local time < closes."""
        at = _aware(at, "at")
        day = at.astimezone(self.timezone).date()
        return self._is_working(day) and self.opening_time(day) <= at < self._closing_at(day)

    def _receipt(self, received_at: datetime) -> date:
        """receipt_day without argument checks."""
        day = received_at.astimezone(self.timezone).date()
        # Compare instants rather than wall clocks so a repeated hour cannot confuse it.
        if self._is_working(day) and received_at < self._closing_at(day):
            return day
        return self._next(day)

    def receipt_day(self, received_at: datetime) -> date:
        """Working day a contact counts as received: that day if before closing, else the next."""
        return self._receipt(_aware(received_at, "received_at"))

    def _closing_after(self, day: date, working_days: int) -> datetime:
        """Closing instant of the Nth working day after ``day`` (memoised per instance)."""
        return self._closing_at(self._add(day, working_days))

    def deadline(self, received_at: datetime, working_days: int) -> datetime:
        """UTC-aware closing time on the Nth working day after the receipt day."""
        if type(working_days) is not int or working_days < 0:
            _count(working_days, "working_days")
        return self._deadline_for_day(
            self._receipt(_aware(received_at, "received_at")), working_days
        )

    def extend(self, due_at: datetime, working_days: int) -> datetime:
        """UTC-aware closing time on the Nth working day after ``due_at``'s local date."""
        due_at = _aware(due_at, "due_at")
        _count(working_days, "working_days")
        return self._deadline_for_day(due_at.astimezone(self.timezone).date(), working_days)

    def working_days_elapsed(self, start: datetime, end: datetime) -> int:
        """Working days after the receipt day of ``start`` whose closing time is <= ``end``.

        This is the inverse of deadline(): ``working_days_elapsed(s, deadline(s, n)) == n``,
        and for n >= 1, ``working_days_elapsed(s, e) >= n`` exactly when ``e >= deadline(s, n)``.
        It is 0 when ``end`` is not after the receipt day's closing time.
        """
        start = _aware(start, "start")
        end = _aware(end, "end")
        receipt = self._receipt(start)
        last = end.astimezone(self.timezone).date()
        # The end day only counts once its office has closed.
        if end < self._closing_at(last):
            last -= _ONE_DAY
        if last <= receipt:
            return 0
        count = 0
        day = receipt
        while day < last:
            day += _ONE_DAY
            if self._is_working(day):
                count += 1
        return count
