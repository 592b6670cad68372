"""What routes are given: the policy in force and the council's calendar."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from contact_common.calendar import WorkingCalendar
from contact_common.commitments import Policy


def get_policy(request: Request) -> Policy:
    """The policy loaded at start-up."""
    policy: Policy = request.app.state.policy
    return policy


def get_calendar(request: Request) -> WorkingCalendar:
    """The working-day calendar of the settings."""
    calendar: WorkingCalendar = request.app.state.calendar
    return calendar


PolicyDep = Annotated[Policy, Depends(get_policy)]
CalendarDep = Annotated[WorkingCalendar, Depends(get_calendar)]
