"""Rules of a reception visit, on plain values."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class VisitOutcome(StrEnum):
    """What posting a visit record did."""

    created = "created"
    attended = "attended"
    duplicate = "duplicate"


def outcome_of_repeat(*, known_attended: bool, posted_attended: bool) -> VisitOutcome:
    """A record for a known visit adds the attendance the first time it is posted, else nothing."""
    if posted_attended and not known_attended:
        return VisitOutcome.attended
    return VisitOutcome.duplicate


def wait_seconds(arrived_at: datetime, attended_at: datetime) -> float:
    """Seconds the visitor waited to be seen."""
    return max(0.0, (attended_at - arrived_at).total_seconds())
