"""A contact's next due commitment: what enquiry-api and complaints-api show on every read.

The deadlines are the shared calculation's (`due_at`, `at_risk_at`), and the clocks the same
ones sla-monitor keeps, worked out from the contact's own state instead of its events: so the
due time an officer reads on an enquiry is the deadline the clock keeps.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from contact_common.calendar import WorkingCalendar
from contact_common.commitments.deadlines import at_risk_at, due_at
from contact_common.commitments.policy import Anchor, Commitment, Policy
from contact_common.events.common import Channel, ContactType


class DueStatus(StrEnum):
    """Where a running clock stands (the words of sla-monitor's worklist)."""

    open = "open"  # on track
    at_risk = "at_risk"  # the commitment's at-risk share of the window has gone
    breached = "breached"  # the deadline has passed with no stop


@dataclass(frozen=True, slots=True)
class RunningClock:
    """A commitment's clock that has started and not stopped."""

    commitment: Commitment
    started_at: datetime
    due_at: datetime


@dataclass(frozen=True, slots=True)
class NextDue:
    """The running clock due first, and where it stands."""

    commitment: str
    due_at: datetime
    at_risk_at: datetime
    status: DueStatus


def next_due(
    running: Iterable[RunningClock], *, calendar: WorkingCalendar, now: datetime
) -> NextDue | None:
    """The earliest deadline among the running clocks (by commitment id on a tie), as at `now`."""
    first = min(running, key=lambda c: (c.due_at, c.commitment.id), default=None)
    if first is None:
        return None
    risk = at_risk_at(first.commitment, first.started_at, first.due_at, calendar)
    if first.due_at < now:
        status = DueStatus.breached
    elif risk <= now:
        status = DueStatus.at_risk
    else:
        status = DueStatus.open
    return NextDue(first.commitment.id, first.due_at, risk, status)


@dataclass(frozen=True, slots=True)
class EnquiryState:
    """What an enquiry's clocks depend on: its channel and the times of its steps."""

    channel: Channel
    received_at: datetime
    acknowledged_at: datetime | None
    responded_at: datetime | None
    resolved_at: datetime | None
    reopened_at: datetime | None
    reopen_count: int


_ENQUIRY_STEPS = ("enquiry.acknowledged", "enquiry.responded", "enquiry.resolved")


def _enquiry_start(commitment: Commitment, state: EnquiryState) -> datetime | None:
    if commitment.anchor is Anchor.acknowledged:
        return state.acknowledged_at
    if state.reopen_count > 0:
        # The clocks of the first opening stopped when it was resolved; a reopening starts
        # only the commitments that listen for it, from the reopening.
        return state.reopened_at if "enquiry.reopened" in commitment.start_events else None
    return state.received_at if "enquiry.opened" in commitment.start_events else None


def enquiry_clocks(
    policy: Policy, calendar: WorkingCalendar, state: EnquiryState
) -> list[RunningClock]:
    """The enquiry commitments whose clocks are running for an enquiry in this state."""
    times = dict(
        zip(
            _ENQUIRY_STEPS,
            (state.acknowledged_at, state.responded_at, state.resolved_at),
            strict=True,
        )
    )
    running = []
    for commitment in policy.commitments:
        channels = commitment.applies_to.channels
        if commitment.contact_type is not ContactType.enquiry or (
            channels is not None and state.channel not in channels
        ):
            continue
        started = _enquiry_start(commitment, state)
        if started is None:
            continue
        if commitment.applies_to.office_hours_only and not calendar.in_office_hours(started):
            continue
        stops = [times.get(event) for event in commitment.stop_events]
        # A reopening's clock is stopped only by a step after it (responded_at and resolved_at
        # are cleared on reopening; the acknowledgement of the first opening stays).
        if any(at is not None and (state.reopen_count == 0 or at >= started) for at in stops):
            continue
        running.append(RunningClock(commitment, started, due_at(commitment, started, calendar)))
    return running
