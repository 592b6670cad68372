"""The council's calendar as the API shows it."""

from __future__ import annotations

from datetime import date, timedelta

from contact_common.calendar import WorkingCalendar
from contact_common.errors import ProblemError
from sla_monitor.calendar.schemas import CalendarDay, WorkingDays

MAX_DAYS = 732


def working_days(*, calendar: WorkingCalendar, start: date, end: date) -> WorkingDays:
    """Each day from `start` to `end` inclusive: working or not, and which holiday."""
    if start > end:
        raise ProblemError(422, "from must not be after to", problem="invalid-range")
    if (end - start).days + 1 > MAX_DAYS:
        raise ProblemError(
            422, f"ask for at most {MAX_DAYS} days at a time", problem="range-too-long"
        )
    days = []
    day = start
    while day <= end:
        days.append(
            CalendarDay(
                date=day,
                weekday=day.strftime("%A"),
                working=calendar.is_working_day(day),
                holiday=calendar.holiday_name(day),
            )
        )
        day += timedelta(days=1)
    return WorkingDays.model_validate(
        {
            "from": start,
            "to": end,
            "working_days": sum(d.working for d in days),
            "office_opens": calendar.office_hours.opens.strftime("%H:%M"),
            "office_closes": calendar.office_hours.closes.strftime("%H:%M"),
            "timezone": calendar.timezone.key,
            "days": days,
        }
    )
