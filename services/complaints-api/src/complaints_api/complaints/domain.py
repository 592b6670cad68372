"""The council's complaint and escalation policy as pure rules on plain values.

Norfolk's customer experience strategy (recommendation 4) asks for a clear issue, complaint and
escalation procedure, so that a customer who does not like an answer escalates through it rather
than around it. The procedure here is the Complaint Handling Code's two stages and the Ombudsman:

    stage 1: received -> acknowledged -> responded (outcome) -> closed
             the customer may escalate to stage 2 within the escalation window after the response
    stage 2: received -> acknowledged -> responded (by another officer) -> closed
             the customer may take it to the Ombudsman (LGSCO)
    ombudsman: referred -> the Ombudsman's decision closes it

One extension per stage, with a reason, before the stage's response and its deadline, of at
most the working days the commitments policy allows (libs/common `contact_common.commitments`,
the one source of every deadline). Every refusal says where the complaint is and what may
happen next.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from contact_common.calendar import WorkingCalendar
from contact_common.commitments import ExtensionRefused, ExtensionTooLong
from contact_common.commitments import Policy as Commitments
from contact_common.commitments.complaints import check_extension_at
from contact_common.events import Channel, ComplaintStage


class Status(StrEnum):
    """Where a complaint is within its stage."""

    received = "received"
    """Recorded at this stage (received, or escalated to it), awaiting acknowledgement."""
    acknowledged = "acknowledged"
    responded = "responded"
    referred = "referred"
    """With the Ombudsman, awaiting its decision."""
    closed = "closed"
    voided = "voided"
    """A duplicate, spam or a test: no further steps, counted nowhere."""


class Action(StrEnum):
    """What an officer (or the Ombudsman's decision) can do to a complaint; the path's last part."""

    acknowledge = "acknowledge"
    extend = "extend"
    respond = "respond"
    escalate = "escalate"
    close = "close"
    ombudsman_decision = "ombudsman-decision"


S1, S2, OMBUDSMAN = ComplaintStage.stage_1, ComplaintStage.stage_2, ComplaintStage.ombudsman

State = tuple[ComplaintStage, Status]

TRANSITIONS: Mapping[State, Mapping[Action, State]] = {
    (S1, Status.received): {
        Action.acknowledge: (S1, Status.acknowledged),
        Action.extend: (S1, Status.received),
    },
    (S1, Status.acknowledged): {
        Action.respond: (S1, Status.responded),
        Action.extend: (S1, Status.acknowledged),
    },
    (S1, Status.responded): {
        Action.escalate: (S2, Status.received),
        Action.close: (S1, Status.closed),
    },
    # Closing records that the council considers the matter finished; the customer's right to
    # ask for stage 2 within the window stands all the same.
    (S1, Status.closed): {Action.escalate: (S2, Status.received)},
    (S2, Status.received): {
        Action.acknowledge: (S2, Status.acknowledged),
        Action.extend: (S2, Status.received),
    },
    (S2, Status.acknowledged): {
        Action.respond: (S2, Status.responded),
        Action.extend: (S2, Status.acknowledged),
    },
    (S2, Status.responded): {
        Action.escalate: (OMBUDSMAN, Status.referred),
        Action.close: (S2, Status.closed),
    },
    # The LGSCO takes complaints up to 12 months after the council's final response, usually
    # long after the council closed its file; its own time limit applies, not ours.
    (S2, Status.closed): {Action.escalate: (OMBUDSMAN, Status.referred)},
    (OMBUDSMAN, Status.referred): {Action.ombudsman_decision: (OMBUDSMAN, Status.closed)},
    (OMBUDSMAN, Status.closed): {},
    # A voided complaint takes no further steps, at whichever stage it was voided.
    **{(stage, Status.voided): {} for stage in (S1, S2, OMBUDSMAN)},
}
"""Every state a complaint can be in, and where each allowed action takes it."""

STAGE_NAMES = {S1: "stage 1", S2: "stage 2", OMBUDSMAN: "the Ombudsman (LGSCO)"}

_WHY: Mapping[tuple[Status, Action], str] = {
    (Status.received, Action.respond): "it has not been acknowledged yet; acknowledge it first",
    (Status.received, Action.escalate): "escalation follows the council's response at this "
    "stage, and there is none yet",
    (Status.acknowledged, Action.escalate): "escalation follows the council's response at this "
    "stage, and there is none yet",
    (Status.received, Action.close): "a complaint is closed after the council's response at its "
    "stage, and there is none yet",
    (Status.acknowledged, Action.close): "a complaint is closed after the council's response at "
    "its stage, and there is none yet",
    (Status.acknowledged, Action.acknowledge): "it has already been acknowledged at this stage",
    (Status.responded, Action.acknowledge): "it has already been acknowledged and answered at "
    "this stage",
    (Status.responded, Action.respond): "the council has already responded at this stage",
    (Status.responded, Action.extend): "the deadline of a stage cannot be extended after its "
    "response",
    (Status.closed, Action.close): "it is already closed",
    (Status.referred, Action.acknowledge): "the Ombudsman is considering it; the council's "
    "stages are over",
    (Status.referred, Action.respond): "the Ombudsman is considering it; record its decision "
    "when it arrives",
    (Status.referred, Action.extend): "the Ombudsman is considering it; the council's deadlines "
    "are over",
    (Status.referred, Action.escalate): "the Ombudsman is the last stage",
    (Status.referred, Action.close): "it closes when the Ombudsman's decision is recorded",
}


def _why(stage: ComplaintStage, status: Status, action: Action) -> str:
    """Why `action` is not allowed in (stage, status), in an officer's words."""
    if status is Status.voided:
        return "it was voided (a duplicate, spam or a test); nothing further can happen"
    if stage is OMBUDSMAN and status is Status.closed:
        return "the Ombudsman's decision has closed it; nothing further can happen"
    if action is Action.ombudsman_decision:
        return (
            "the Ombudsman decides only a complaint referred to it (escalate from a stage 2 "
            "response first)"
        )
    if (status, action) in _WHY:
        return _WHY[(status, action)]
    if status is Status.closed:
        return "it is closed; only the customer's escalation can reopen it"
    return f"that does not follow '{status}'"


class PolicyRefusal(Exception):
    """An action the policy does not allow now; `detail` says why and what may happen next."""

    def __init__(self, detail: str, *, problem: str, allowed_next: list[Action]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problem = problem
        self.allowed_next = allowed_next


class InvalidTime(ValueError):
    """An `at` that is in the future or before the step it follows."""


class InvalidExtension(ValueError):
    """An extension longer than the commitments policy allows at this stage."""


@dataclass(frozen=True)
class Policy:
    """The complaints procedure's settings, and the commitments policy its deadlines come from."""

    commitments: Commitments
    escalation_window_days: int = 20
    clock_skew: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class StageFacts:
    """What happened at one stage, as far as the rules need to know."""

    stage: ComplaintStage
    started_at: datetime
    acknowledged_at: datetime | None = None
    extended: bool = False
    responded_at: datetime | None = None
    responded_by: str | None = None
    due_at: datetime | None = None
    """The response deadline, once its clock has started."""


@dataclass(frozen=True)
class ComplaintFacts:
    """A complaint's position: its stage, status and each stage reached so far."""

    stage: ComplaintStage
    status: Status
    channel: Channel
    stages: Mapping[ComplaintStage, StageFacts] = field(default_factory=dict)

    @property
    def current(self) -> StageFacts:
        """The record of the stage the complaint is at."""
        return self.stages[self.stage]


def escalate_by(
    calendar: WorkingCalendar, policy: Policy, facts: ComplaintFacts
) -> datetime | None:
    """The last moment the customer may ask for stage 2; None when no such window is open."""
    stage_1 = facts.stages.get(S1)
    if facts.stage is not S1 or stage_1 is None or stage_1.responded_at is None:
        return None
    return calendar.deadline(stage_1.responded_at, policy.escalation_window_days)


def allowed_next(
    facts: ComplaintFacts, *, now: datetime, calendar: WorkingCalendar, policy: Policy
) -> list[Action]:
    """The actions the policy allows now (an officer's identity aside)."""
    allowed: list[Action] = []
    for action in TRANSITIONS[(facts.stage, facts.status)]:
        if action is Action.extend and facts.current.extended:
            continue
        if action is Action.escalate and facts.stage is S1:
            deadline = escalate_by(calendar, policy, facts)
            if deadline is None or now > deadline:
                continue
        allowed.append(action)
    return allowed


def next_state(
    stage: ComplaintStage, status: Status, action: Action, *, allowed: list[Action] | None = None
) -> State:
    """Where `action` takes a complaint in (stage, status); PolicyRefusal if it may not.

    `allowed` is what to offer instead (default: every action the table allows there).
    """
    state = (stage, status)
    if state not in TRANSITIONS:
        raise ValueError(f"{stage}/{status} is not a state a complaint can be in")
    target = TRANSITIONS[state].get(action)
    if target is None:
        offer = list(TRANSITIONS[state]) if allowed is None else allowed
        where = (stage, status, action)
        raise _refusal(where, _why(*where), offer, problem="illegal-transition")
    return target


_PASSIVE = {
    Action.acknowledge: "be acknowledged",
    Action.extend: "be extended",
    Action.respond: "be responded to",
    Action.escalate: "be escalated",
    Action.close: "be closed",
    Action.ombudsman_decision: "take an Ombudsman's decision",
}


def _refusal(
    where: tuple[ComplaintStage, Status, Action],
    why: str,
    allowed: list[Action],
    *,
    problem: str,
) -> PolicyRefusal:
    """The refusal of an action in (stage, status): why, and what is allowed instead."""
    stage, status, action = where
    at = f"The complaint is at {STAGE_NAMES[stage]} and {status}"
    next_ = ", ".join(allowed) if allowed else "nothing"
    return PolicyRefusal(
        f"{at}: it cannot {_PASSIVE[action]} now because {why}. Allowed next: {next_}.",
        problem=problem,
        allowed_next=allowed,
    )


def _earliest(facts: ComplaintFacts, action: Action) -> tuple[datetime, str]:
    """The step `action` follows: it may not be dated before it."""
    current = facts.current
    if action is Action.respond and current.acknowledged_at is not None:
        return current.acknowledged_at, "the acknowledgement"
    if action in (Action.escalate, Action.close) and current.responded_at is not None:
        return current.responded_at, f"the {STAGE_NAMES[current.stage]} response"
    if action is Action.ombudsman_decision:
        return current.started_at, "the referral to the Ombudsman"
    return current.started_at, (
        "the complaint's receipt" if current.stage is S1 else "the escalation to this stage"
    )


def check_time(
    at: datetime,
    *,
    now: datetime,
    policy: Policy,
    not_before: datetime | None = None,
    not_before_what: str = "",
) -> None:
    """Refuse an instant in the future (beyond the clock skew) or before the step it follows."""
    if at > now + policy.clock_skew:
        raise InvalidTime(f"{at.isoformat()} is in the future; say when it happened")
    if not_before is not None and at < not_before:
        raise InvalidTime(
            f"{at.isoformat()} is before {not_before_what} ({not_before.isoformat()})"
        )


def plan(
    facts: ComplaintFacts,
    action: Action,
    *,
    at: datetime,
    now: datetime,
    calendar: WorkingCalendar,
    policy: Policy,
    officer: str | None = None,
    working_days: int | None = None,
) -> State:
    """Check `action` at `at` against the policy; return the state it leads to.

    Raises PolicyRefusal when the policy forbids it now, InvalidTime when `at` cannot be right,
    InvalidExtension when an extension is longer than the commitments policy allows.
    """
    allowed = allowed_next(facts, now=now, calendar=calendar, policy=policy)
    target = next_state(facts.stage, facts.status, action, allowed=allowed)
    where = (facts.stage, facts.status, action)
    if action is Action.extend and facts.current.extended:
        raise _refusal(
            where,
            f"its deadline at {STAGE_NAMES[facts.stage]} has already "
            "been extended once, and the policy allows one extension per stage",
            allowed,
            problem="extension-used",
        )
    earliest, what = _earliest(facts, action)
    check_time(at, now=now, policy=policy, not_before=earliest, not_before_what=what)
    if action is Action.extend:
        _check_extension(facts, at=at, policy=policy, working_days=working_days, allowed=allowed)
    if action is Action.escalate and facts.stage is S1:
        deadline = escalate_by(calendar, policy, facts)
        assert deadline is not None  # a stage-1 complaint that may escalate has a response
        if at > deadline:
            raise _refusal(
                where,
                "the customer may ask for stage 2 only within "
                f"{policy.escalation_window_days} working days of the stage 1 "
                f"response, which ended {deadline.isoformat()}",
                allowed,
                problem="escalation-window-passed",
            )
    if action is Action.respond and facts.stage is S2:
        first = facts.stages[S1].responded_by
        if officer is not None and first is not None and same_officer(first, officer):
            raise _refusal(
                where,
                f"{officer} responded at stage 1, and the Complaint "
                "Handling Code asks for a stage 2 response from a different "
                "officer",
                allowed,
                problem="same-officer",
            )
    return target


def _check_extension(
    facts: ComplaintFacts,
    *,
    at: datetime,
    policy: Policy,
    working_days: int | None,
    allowed: list[Action],
) -> None:
    """An extension the commitments policy takes, agreed by the deadline it replaces."""
    where = (facts.stage, facts.status, Action.extend)
    try:
        check_extension_at(policy.commitments, facts.stage, facts.channel, working_days or 0)
    except ExtensionTooLong as too_long:
        raise InvalidExtension(str(too_long)) from too_long
    except ExtensionRefused as refused:
        raise _refusal(where, str(refused), allowed, problem="extension-not-in-policy") from refused
    due = facts.current.due_at
    if due is not None and at > due:
        raise _refusal(
            where,
            f"the response was due {due.isoformat()}, before {at.isoformat()}; an extension "
            "is agreed before the deadline it replaces",
            allowed,
            problem="deadline-passed",
        )


def same_officer(first: str, second: str) -> bool:
    """True if two officer ids name the same person (ignoring case and surrounding spaces)."""
    return first.strip().casefold() == second.strip().casefold()


_NOT_STEPS = frozenset({"received", "corrected", "voided", "erased"})


def first_step_at(history: Iterable[tuple[str, datetime]]) -> datetime | None:
    """When the first step after its receipt was taken on a complaint, from its (action, time)
    history; None if none was."""
    return min((at for action, at in history if action not in _NOT_STEPS), default=None)


def corrected_received_at_problem(
    received_at: datetime, *, first_step_at: datetime | None, now: datetime, policy: Policy
) -> str | None:
    """Why a corrected received_at is impossible, or None: not in the future, not after the
    first step taken on the complaint."""
    if received_at > now + policy.clock_skew:
        return f"{received_at.isoformat()} is in the future; say when it was received"
    if first_step_at is not None and received_at > first_step_at:
        return (
            f"{received_at.isoformat()} is after the first step taken on it "
            f"({first_step_at.isoformat()})"
        )
    return None


def duplicate_of_problem(
    *, reason_code: str, duplicate_of: object | None, complaint_id: object
) -> str | None:
    """Why a void's duplicate_of is wrong, or None: only a duplicate names one, not itself."""
    if duplicate_of is None:
        return None
    if reason_code != "duplicate":
        return f"is only for reason_code duplicate, not {reason_code}"
    if duplicate_of == complaint_id:
        return "names this complaint itself"
    return None


def phone_digits(phone: str | None) -> str | None:
    """The last ten digits of a phone number, to match +44 7700 900123 with 07700 900123."""
    if not phone:
        return None
    return "".join(c for c in phone if c.isdigit())[-10:] or None
