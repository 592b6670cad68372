"""The rules of an enquiry's lifecycle, on plain values: what may happen next, and when.

    open ─► acknowledged ─► responded ─► resolved ─► reopened ─► ... ─► resolved
      └──────────┴── assigned (any time before it is resolved) ──┘

Resolution is allowed from any unresolved status; `first_point` (KPI CX04, "resolved within the
first contact with no hand-off") is refused once the enquiry was handed to another service area
or reopened. A reopened enquiry starts a new response clock (DESIGN.md, "The commitments").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from contact_common import pagination
from contact_common.pagination import encode_cursor as encode_cursor  # the one codec
from contact_common.references import format_reference as format_reference


class EnquiryStatus(StrEnum):
    """Where an enquiry is in its lifecycle."""

    open = "open"
    acknowledged = "acknowledged"
    assigned = "assigned"
    responded = "responded"
    resolved = "resolved"
    reopened = "reopened"
    voided = "voided"
    """A duplicate, spam or a test: it takes no further steps and counts nowhere."""


class Action(StrEnum):
    """A step staff (or an integration) can take on an enquiry."""

    acknowledge = "acknowledge"
    assign = "assign"
    respond = "respond"
    resolve = "resolve"
    reopen = "reopen"


# The history's name of each step: what was done.
RECORDED_AS: dict[Action, str] = {
    Action.acknowledge: "acknowledged",
    Action.assign: "assigned",
    Action.respond: "responded",
    Action.resolve: "resolved",
    Action.reopen: "reopened",
}


@dataclass(frozen=True, slots=True)
class EnquiryState:
    """What the rules need to know about an enquiry."""

    status: EnquiryStatus
    acknowledged: bool
    handed_off: bool
    reopen_count: int


class TransitionRefused(Exception):
    """A step the enquiry's status does not allow; says what is allowed instead."""

    def __init__(self, message: str, *, status: EnquiryStatus, allowed: list[Action]) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.allowed = allowed


_UNRESOLVED = {
    EnquiryStatus.open,
    EnquiryStatus.acknowledged,
    EnquiryStatus.assigned,
    EnquiryStatus.responded,
    EnquiryStatus.reopened,
}


def _permitted(state: EnquiryState, action: Action) -> bool:
    match action:
        case Action.acknowledge:
            # Responding acknowledges too, so an acknowledgement after a response means nothing.
            return not state.acknowledged and state.status in {
                EnquiryStatus.open,
                EnquiryStatus.assigned,
                EnquiryStatus.reopened,
            }
        case Action.assign:
            return state.status in _UNRESOLVED
        case Action.respond:
            return state.status in _UNRESOLVED - {EnquiryStatus.responded}
        case Action.resolve:
            return state.status in _UNRESOLVED
        case Action.reopen:
            return state.status is EnquiryStatus.resolved


def allowed_actions(state: EnquiryState) -> list[Action]:
    """The steps the enquiry may take next, in lifecycle order."""
    return [action for action in Action if _permitted(state, action)]


def _why_not(state: EnquiryState, action: Action) -> str:
    if state.status is EnquiryStatus.voided:
        return "it was voided (a duplicate, spam or a test)"
    if state.status is EnquiryStatus.resolved:
        return "it is resolved"
    if action is Action.acknowledge and state.acknowledged:
        return "it has already been acknowledged"
    if action is Action.respond:
        return "it has already been responded to"
    return f"it is {state.status.value}, not resolved"


def next_status(state: EnquiryState, action: Action) -> EnquiryStatus:
    """The status after `action`, or TransitionRefused saying what is allowed next."""
    if not _permitted(state, action):
        allowed = allowed_actions(state)
        allowed_text = ", ".join(a.value for a in allowed) or "nothing"
        raise TransitionRefused(
            f"The enquiry cannot be {_PAST[action]}: {_why_not(state, action)}. "
            f"Its status is {state.status.value}; allowed next: {allowed_text}.",
            status=state.status,
            allowed=allowed,
        )
    match action:
        case Action.acknowledge:
            if state.status is EnquiryStatus.open:
                return EnquiryStatus.acknowledged
            return state.status
        case Action.assign:
            if state.status is EnquiryStatus.responded:
                return EnquiryStatus.responded
            return EnquiryStatus.assigned
        case Action.respond:
            return EnquiryStatus.responded
        case Action.resolve:
            return EnquiryStatus.resolved
        case Action.reopen:
            return EnquiryStatus.reopened


_PAST = {
    Action.acknowledge: "acknowledged",
    Action.assign: "assigned",
    Action.respond: "responded to",
    Action.resolve: "resolved",
    Action.reopen: "reopened",
}


def first_point_refusal(state: EnquiryState) -> str | None:
    """Why the enquiry cannot be resolved at first point (KPI CX04), or None if it can."""
    reasons = []
    if state.handed_off:
        reasons.append("it was handed off to another service area")
    if state.reopen_count:
        reasons.append(f"it was reopened ({state.reopen_count} time(s))")
    if not reasons:
        return None
    return (
        "first_point means resolved within the first contact with no hand-off, but "
        + " and ".join(reasons)
        + ". Resolve it with first_point false."
    )


def is_hand_off(current_service_area: str, new_service_area: str) -> bool:
    """True when an assignment hands the enquiry to another service area."""
    return current_service_area != new_service_area


def step_time_problem(
    at: datetime, *, received_at: datetime, last_step_at: datetime, now: datetime, skew: timedelta
) -> str | None:
    """Why `at` cannot be the time of a step, or None if it can."""
    if at > now + skew:
        return f"is in the future (now is {now.isoformat()})"
    if at < received_at:
        return f"is before the enquiry was received ({received_at.isoformat()})"
    if at < last_step_at:
        return f"is before the enquiry's previous step ({last_step_at.isoformat()})"
    return None


def received_at_problem(received_at: datetime, *, now: datetime, skew: timedelta) -> str | None:
    """Why `received_at` is impossible, or None."""
    if received_at > now + skew:
        return f"is in the future (now is {now.isoformat()})"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Facts:
    """What a correction may change: the facts commitments and figures are counted from."""

    received_at: datetime
    channel: str
    service_area: str


def corrected_fields(current: Facts, requested: Facts) -> dict[str, tuple[object, object]]:
    """The fields a correction changes: name -> (old value, new value); none if it changes
    nothing (a retried correction, or values the enquiry has already)."""
    return {
        name: (getattr(current, name), getattr(requested, name))
        for name in ("received_at", "channel", "service_area")
        if getattr(current, name) != getattr(requested, name)
    }


def corrected_received_at_problem(
    received_at: datetime, *, first_step_at: datetime | None, now: datetime, skew: timedelta
) -> str | None:
    """Why a corrected received_at is impossible, or None: not in the future, and not after
    the first step taken on the contact (nothing can be done to it before it arrived)."""
    problem = received_at_problem(received_at, now=now, skew=skew)
    if problem:
        return problem
    if first_step_at is not None and received_at > first_step_at:
        return f"is after the first step taken on it ({first_step_at.isoformat()})"
    return None


def void_problem(
    *, reason_code: str, duplicate_of: object | None, contact_id: object
) -> str | None:
    """Why a void's duplicate_of is wrong, or None: only a duplicate names one, never itself."""
    if duplicate_of is None:
        return None
    if reason_code != "duplicate":
        return f"is only for reason_code duplicate, not {reason_code}"
    if duplicate_of == contact_id:
        return "names this contact itself; a contact cannot duplicate itself"
    return None


_NOT_DIGITS = re.compile(r"\D")


def phone_digits(phone: str | None) -> str | None:
    """The last ten digits of a phone number, to match +44 7700 900123 with 07700 900123."""
    if not phone:
        return None
    digits = _NOT_DIGITS.sub("", phone)
    return digits[-10:] or None


def decode_cursor(cursor: str) -> tuple[datetime, str] | None:
    """The (received_at, id) a cursor stands for; None if it is not one of ours."""
    try:
        received_at, enquiry_id = pagination.decode_cursor(cursor)
    except pagination.InvalidCursor:
        return None
    return received_at, str(enquiry_id)
