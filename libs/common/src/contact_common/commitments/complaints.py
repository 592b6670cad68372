"""A complaint stage's due dates under the policy in force: what complaints-api shows officers.

The deadlines are set the way sla-monitor's clocks start, so the two always agree: when a step
happens (a complaint received, escalated or acknowledged), each commitment covering the stage
that this step starts gets its deadline, once; a later step or a change of policy never moves a
deadline already set, only an extension does. A commitment is the stage's acknowledgement when
`complaint.acknowledged` stops it and its response when `complaint.responded` does. Under the
Complaint Handling Code the response clock starts at the acknowledgement, so until then the
stage has no response deadline; an extension agreed before it applies once it starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from contact_common.calendar import WorkingCalendar
from contact_common.commitments.deadlines import (
    ExtensionRefused,
    check_extension,
    due_at,
    extended_due_at,
)
from contact_common.commitments.next_due import RunningClock
from contact_common.commitments.policy import Anchor, Commitment, Policy
from contact_common.events.common import Channel, ComplaintStage, ContactType

ACKNOWLEDGED = "complaint.acknowledged"
RESPONDED = "complaint.responded"
EXTENDED = "complaint.extended"

StartingStep = Literal["complaint.received", "complaint.escalated", "complaint.acknowledged"]


@dataclass(frozen=True, slots=True)
class StageDeadlines:
    """Deadlines a step started at a stage; None where it started none of that kind."""

    acknowledge: datetime | None = None
    respond: datetime | None = None


def covering(policy: Policy, stage: ComplaintStage, channel: Channel) -> list[Commitment]:
    """The complaint commitments that run at this stage for a complaint on this channel."""
    found = []
    for commitment in policy.commitments:
        if commitment.contact_type is not ContactType.complaint:
            continue
        stages, channels = commitment.applies_to.stages, commitment.applies_to.channels
        if (stages is None or stage in stages) and (channels is None or channel in channels):
            found.append(commitment)
    return found


def response_commitment(policy: Policy, stage: ComplaintStage, channel: Channel) -> Commitment:
    """The commitment an extension at this stage extends; ExtensionRefused if there is none."""
    for commitment in covering(policy, stage, channel):
        if RESPONDED in commitment.stop_events and EXTENDED in commitment.extend_events:
            return commitment
    raise ExtensionRefused(f"the policy {policy.name!r} allows no extension at {stage.value}")


def check_extension_at(
    policy: Policy, stage: ComplaintStage, channel: Channel, working_days: int
) -> Commitment:
    """The commitment an extension of `working_days` would extend, if the policy allows it."""
    commitment = response_commitment(policy, stage, channel)
    check_extension(commitment, working_days)
    return commitment


def deadlines_started(
    policy: Policy,
    calendar: WorkingCalendar,
    *,
    step: StartingStep,
    at: datetime,
    stage: ComplaintStage,
    channel: Channel,
    extension_working_days: int | None = None,
) -> StageDeadlines:
    """The deadlines `step`, made `at`, starts at this stage (an earlier extension applied)."""
    acknowledge = respond = None
    for commitment in covering(policy, stage, channel):
        if step not in commitment.start_events:
            continue
        due = due_at(commitment, at, calendar)
        if extension_working_days and EXTENDED in commitment.extend_events:
            due = extended_due_at(due, extension_working_days, calendar)
        if acknowledge is None and ACKNOWLEDGED in commitment.stop_events:
            acknowledge = due
        elif respond is None and RESPONDED in commitment.stop_events:
            respond = due
    return StageDeadlines(acknowledge=acknowledge, respond=respond)


@dataclass(frozen=True, slots=True)
class StageState:
    """A complaint stage as complaints-api keeps it: its steps and the deadlines they set."""

    stage: ComplaintStage
    channel: Channel
    started_at: datetime
    acknowledge_due_at: datetime | None
    acknowledged_at: datetime | None
    due_at: datetime | None
    responded_at: datetime | None


def stage_clocks(policy: Policy, state: StageState) -> list[RunningClock]:
    """The stage's running clocks, with the deadlines complaints-api set (extensions included)."""
    running = []
    for commitment in covering(policy, state.stage, state.channel):
        if ACKNOWLEDGED in commitment.stop_events:
            stopped, due = state.acknowledged_at is not None, state.acknowledge_due_at
        elif RESPONDED in commitment.stop_events:
            stopped, due = state.responded_at is not None, state.due_at
        else:
            continue
        started = (
            state.acknowledged_at if commitment.anchor is Anchor.acknowledged else state.started_at
        )
        if stopped or due is None or started is None:
            continue
        running.append(RunningClock(commitment, started, due))
    return running
