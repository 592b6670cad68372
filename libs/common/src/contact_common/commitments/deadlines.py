"""When a commitment's clock is due, extended and at risk: the one calculation every service uses.

sla-monitor's clocks, complaints-api's due dates and the tests' own checks all come here, so a
deadline shown to an officer is the deadline the clock keeps (DESIGN.md, "The commitments").
"""

from __future__ import annotations

from datetime import datetime, timedelta

from contact_common.calendar import WorkingCalendar
from contact_common.commitments.policy import Commitment

_ONE_DAY = timedelta(days=1)


class ExtensionRefused(ValueError):
    """An extension the commitment does not allow; the message says why."""


class ExtensionTooLong(ExtensionRefused):
    """An extension longer than the commitment allows; `limit` is the most it does."""

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


def due_at(commitment: Commitment, started_at: datetime, calendar: WorkingCalendar) -> datetime:
    """When the clock is due: elapsed seconds, or closing time on the Nth working day."""
    target = commitment.target
    if target.seconds is not None:
        return started_at + timedelta(seconds=target.seconds)
    assert target.working_days is not None  # a Target has exactly one of the two
    return calendar.deadline(started_at, target.working_days)


def check_extension(commitment: Commitment, working_days: int) -> None:
    """Refuse an extension the commitment does not take, or one longer than it allows."""
    limit = commitment.max_extension_working_days
    if limit is None:
        raise ExtensionRefused(f"{commitment.id} cannot be extended under this policy")
    if working_days > limit:
        raise ExtensionTooLong(
            f"{commitment.id} may be extended by at most {limit} working days under this "
            f"policy, not {working_days}",
            limit=limit,
        )


def extended_due_at(due: datetime, working_days: int, calendar: WorkingCalendar) -> datetime:
    """The deadline after an extension: closing time on the Nth working day after the old one.

    The extension counts from the deadline it replaces, whatever that deadline counted from
    (receipt, or under the Complaint Handling Code the acknowledgement).
    """
    return calendar.extend(due, working_days)


def office_time_share(
    started_at: datetime, due: datetime, share: float, calendar: WorkingCalendar
) -> datetime:
    """The instant `share` of the office hours between start and deadline have gone.

    For working-day targets the window is counted in office hours, so an email's at-risk
    warning falls in a working afternoon, not on the bank holiday between.
    """
    spans: list[tuple[datetime, datetime]] = []
    day = started_at.astimezone(calendar.timezone).date()
    last = due.astimezone(calendar.timezone).date()
    while day <= last:
        if calendar.is_working_day(day):
            opens = max(calendar.opening_time(day), started_at)
            closes = min(calendar.closing_time(day), due)
            if closes > opens:
                spans.append((opens, closes))
        day += _ONE_DAY
    total = sum((closes - opens for opens, closes in spans), timedelta(0))
    if total <= timedelta(0):
        return started_at + (due - started_at) * share
    remaining = total * share
    for opens, closes in spans:
        if closes - opens >= remaining:
            return opens + remaining
        remaining -= closes - opens
    return due


def at_risk_at(
    commitment: Commitment, started_at: datetime, due: datetime, calendar: WorkingCalendar
) -> datetime:
    """When the clock is at risk: its at-risk share of the window has gone."""
    share = commitment.at_risk_share
    if commitment.target.seconds is not None:
        return started_at + (due - started_at) * share
    return office_time_share(started_at, due, share, calendar)
