"""What GET /v1/calendar/working-days answers."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class CalendarDay(BaseModel):
    """One day of the council's calendar."""

    date: date
    weekday: str = Field(description="Monday to Sunday.")
    working: bool = Field(description="A working day: Monday-Friday, no holiday, no closure.")
    holiday: str | None = Field(
        description="The bank holiday's name, or 'council closure'; absent on other days."
    )


class WorkingDays(BaseModel):
    """The days between two dates, inclusive."""

    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    working_days: int = Field(description="How many of the days are working days.")
    office_opens: str = Field(description="Local opening time, e.g. 09:00.")
    office_closes: str = Field(description="Local closing time; deadlines fall at it.")
    timezone: str = Field(description="The office's time zone, e.g. Europe/London.")
    days: list[CalendarDay]
