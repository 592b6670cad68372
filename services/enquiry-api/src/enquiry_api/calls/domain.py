"""Rules of a call record, on plain values."""

from __future__ import annotations

from datetime import datetime


def wait_seconds(offered_at: datetime, picked_up_or_dropped_at: datetime) -> float:
    """Seconds the caller waited: to an answer, or until they hung up."""
    return max(0.0, (picked_up_or_dropped_at - offered_at).total_seconds())


def call_times_problem(
    *,
    offered_at: datetime,
    answered_at: datetime | None,
    abandoned_at: datetime | None,
    ended_at: datetime | None,
) -> tuple[str, str] | None:
    """(field, why) if the times of a call cannot be true, else None."""
    if (answered_at is None) == (abandoned_at is None):
        return "answered_at", "give exactly one of answered_at (answered) or abandoned_at"
    outcome_field = "answered_at" if answered_at is not None else "abandoned_at"
    outcome_at = answered_at or abandoned_at
    assert outcome_at is not None
    if outcome_at < offered_at:
        return outcome_field, f"{outcome_field} is before offered_at"
    if ended_at is not None and ended_at < outcome_at:
        return "ended_at", f"ended_at is before {outcome_field}"
    return None


def first_of_each(keys: list[str]) -> list[bool]:
    """For each key, whether it is its first occurrence in the list (later ones are repeats)."""
    seen: set[str] = set()
    firsts = []
    for key in keys:
        firsts.append(key not in seen)
        seen.add(key)
    return firsts
