"""What routes are given: the policy in force, the council's calendar, the service's clock and
its settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from contact_common.calendar import WorkingCalendar
from contact_common.commitments import Policy
from sla_monitor.config import Settings
from sla_monitor.timekeeping import Clock


def get_policy(request: Request) -> Policy:
    """The policy loaded at start-up."""
    policy: Policy = request.app.state.policy
    return policy


def get_calendar(request: Request) -> WorkingCalendar:
    """The working-day calendar of the settings."""
    calendar: WorkingCalendar = request.app.state.calendar
    return calendar


def get_clock(request: Request) -> Clock:
    """The service's clock (a test's FakeClock, or the wall clock with its offset)."""
    clock: Clock = request.app.state.clock
    return clock


def get_app_settings(request: Request) -> Settings:
    """The settings the application was created with."""
    settings: Settings = request.app.state.runtime.settings
    return settings


PolicyDep = Annotated[Policy, Depends(get_policy)]
CalendarDep = Annotated[WorkingCalendar, Depends(get_calendar)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
