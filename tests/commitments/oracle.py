"""The commitments worked out again, independently of the services, for the property test.

Nothing here imports the platform's calendar, policy loader or clock rules: the working-day
rule, both shipped policies' complaint and enquiry commitments and what a stop, an extension or
a reopening does are written out from DESIGN.md, so the services are checked against a second
reading of the specification rather than against themselves.

- A working day is Monday to Friday and not an England and Wales bank holiday (the `holidays`
  package, subdivision ENG); the office closes at 17:00 Europe/London.
- A contact received on a working day before 17:00 counts from that day, otherwise from the next
  working day; N working days end at 17:00 on the Nth working day after it.
- An extension of N working days ends at 17:00 on the Nth working day after the old deadline's
  date; it is refused (or, for the clock, a breach) after that deadline.
- A corrected receipt: the clocks count from it, as if the contact had been recorded so. A
  voided contact's clocks are cancelled: neither met nor breached, counted nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")
CLOSES = time(17)
BANK_HOLIDAYS = holidays.country_holidays("GB", subdiv="ENG", years=range(2020, 2100))

# (acknowledge, stage 1 response, stage 2 response, stage-1 extension, stage-2 extension, from
# the acknowledgement?) in working days, for each shipped policy (DESIGN.md and the Code).
COMPLAINT_RULES = {
    "default": (3, 10, 20, 10, 10, False),
    "complaint-handling-code-2024": (5, 10, 20, 10, 20, True),
}
# Enquiry commitments by channel: (commitment, working days, stops).
ENQUIRY_RULES = {
    "email": [
        ("email-acknowledge", 1, ("acknowledge", "respond", "resolve")),
        ("email-respond", 3, ("respond", "resolve")),
    ],
    "letter": [("letter-respond", 10, ("respond", "resolve"))],
    "voicemail": [("voicemail-respond", 1, ("respond", "resolve"))],
}
RESPONSE_CLOCKS = {"email-respond", "letter-respond", "voicemail-respond"}


def working(day: date) -> bool:
    """Monday to Friday, not a bank holiday in England."""
    return day.weekday() < 5 and day not in BANK_HOLIDAYS


def next_working(day: date) -> date:
    day += timedelta(days=1)
    while not working(day):
        day += timedelta(days=1)
    return day


def closing(day: date) -> datetime:
    return datetime.combine(day, CLOSES, tzinfo=LONDON).astimezone(UTC)


def counts_from(at: datetime) -> date:
    """The working day a contact received at `at` counts as received."""
    local = at.astimezone(LONDON)
    if working(local.date()) and local.time() < CLOSES:
        return local.date()
    return next_working(local.date())


def deadline(at: datetime, working_days: int) -> datetime:
    day = counts_from(at)
    for _ in range(working_days):
        day = next_working(day)
    return closing(day)


def extended(due: datetime, working_days: int) -> datetime:
    day = due.astimezone(LONDON).date()
    for _ in range(working_days):
        day = next_working(day)
    return closing(day)


@dataclass
class Clock:
    """What one clock must end as."""

    commitment: str
    sequence: int
    due_at: datetime
    stopped_at: datetime | None = None
    cancelled: bool = False
    """Its contact was voided: neither met nor breached, counted nowhere."""

    @property
    def status(self) -> str:
        if self.cancelled:
            return "cancelled"
        # Every deadline in the property test is long past: a clock with no stop is breached.
        if self.stopped_at is not None and self.stopped_at <= self.due_at:
            return "met"
        return "breached"

    def stop(self, at: datetime) -> None:
        if self.stopped_at is None or at < self.stopped_at:
            self.stopped_at = at


@dataclass
class EnquiryHistory:
    """An enquiry's steps as recorded: (action, at), in time order. `received_at` is the
    corrected receipt if it was corrected: the clocks count from the corrected facts."""

    channel: str
    received_at: datetime
    steps: list[tuple[str, datetime]] = field(default_factory=list)
    voided: bool = False

    def clocks(self) -> list[Clock]:
        found = self._clocks()
        for clock in found:
            clock.cancelled = self.voided
        return found

    def _clocks(self) -> list[Clock]:
        found: list[Clock] = []
        rules = ENQUIRY_RULES.get(self.channel, [])
        for commitment, days, stops in rules:
            clock = Clock(commitment, 0, deadline(self.received_at, days))
            found.append(clock)
            for action, at in self.steps:
                if action in stops:
                    clock.stop(at)
        reopens = [at for action, at in self.steps if action == "reopen"]
        for sequence, reopened_at in enumerate(reopens, start=1):
            for commitment, days, stops in rules:
                if commitment not in RESPONSE_CLOCKS:
                    continue  # a reopening restarts only the response clock
                clock = Clock(commitment, sequence, deadline(reopened_at, days))
                found.append(clock)
                for action, at in self.steps:
                    if action in stops and at >= reopened_at:
                        clock.stop(at)
        return found


@dataclass
class Stage:
    """One complaint stage's recorded steps."""

    number: int
    started_at: datetime
    acknowledged_at: datetime | None = None
    extension: tuple[datetime, int] | None = None
    responded_at: datetime | None = None


@dataclass
class ComplaintHistory:
    """A complaint's stages as recorded, under one policy."""

    policy: str
    stages: list[Stage] = field(default_factory=list)
    voided: bool = False

    def acknowledge_due(self, stage: Stage) -> datetime:
        return deadline(stage.started_at, COMPLAINT_RULES[self.policy][0])

    def response_due(self, stage: Stage, *, extension: bool = True) -> datetime | None:
        """The stage's response deadline (None while the Code's clock has not started)."""
        rules = COMPLAINT_RULES[self.policy]
        days = rules[1] if stage.number == 1 else rules[2]
        start = stage.acknowledged_at if rules[5] else stage.started_at
        if start is None:
            return None
        due = deadline(start, days)
        if extension and stage.extension is not None:
            agreed_at, working_days = stage.extension
            if agreed_at <= due:
                due = extended(due, working_days)
        return due

    def extension_limit(self, stage: Stage) -> int:
        rules = COMPLAINT_RULES[self.policy]
        return rules[3] if stage.number == 1 else rules[4]

    def extension_allowed(self, stage: Stage, at: datetime, working_days: int) -> bool:
        """Would complaints-api take this extension? Within the limit, by the deadline."""
        due = self.response_due(stage, extension=False)
        return working_days <= self.extension_limit(stage) and (due is None or at <= due)

    def clocks(self) -> list[Clock]:
        found = []
        for stage in self.stages:
            acknowledge = Clock("complaint-acknowledge", stage.number, self.acknowledge_due(stage))
            if stage.acknowledged_at is not None:
                acknowledge.stop(stage.acknowledged_at)
            found.append(acknowledge)
            due = self.response_due(stage)
            if due is None:
                continue
            name = "complaint-respond" if stage.number == 1 else "complaint-respond-stage2"
            respond = Clock(name, stage.number, due)
            if stage.responded_at is not None:
                respond.stop(stage.responded_at)
            found.append(respond)
        for clock in found:
            clock.cancelled = self.voided
        return found
