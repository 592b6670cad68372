"""The worklist's rules, pure: what an open clock's status is, what "due today" and "due this
week" mean on the council's calendar, and which contact facts an event brings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from uuid import UUID
from zoneinfo import ZoneInfo

from contact_common.events import CloudEvent


class WorkStatus(StrEnum):
    """Where an open clock stands: what staff chase first."""

    breached = "breached"  # past its deadline with no stop
    at_risk = "at_risk"  # the at-risk share of its window has gone
    open = "open"  # running, on track


class Due(StrEnum):
    """How far ahead the worklist looks, on the council's calendar."""

    today = "today"  # due by the end of today (local), overdue ones included
    week = "week"  # due by the end of this week (Sunday, local), overdue ones included
    any = "any"


@dataclass(frozen=True, slots=True)
class WorklistFilters:
    """What a worklist is narrowed to; every field optional (None or empty: all)."""

    service_areas: frozenset[str] = frozenset()  # any of these
    assignee: str | None = None
    commitment: str | None = None
    statuses: frozenset[WorkStatus] = frozenset()
    due_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class WorklistRow:
    """One open clock as staff read it: the contact by its reference, its owner, its deadline."""

    clock_id: UUID
    subject_type: str
    subject_id: UUID
    reference: str | None
    commitment: str
    service_area: str | None
    stage: str | None
    assignee_id: str | None
    assignee_name: str | None
    assignee_team: str | None
    started_at: datetime
    due_at: datetime
    at_risk_at: datetime
    status: WorkStatus


@dataclass(frozen=True, slots=True)
class ContactOwner:
    """What sla-monitor knows of a contact besides its clocks: its reference and its owner."""

    reference: str | None
    assignee_id: str | None
    assignee_name: str | None
    assignee_team: str | None


def status_of(
    *, breached: bool, due_at: datetime, at_risk_at: datetime, now: datetime
) -> WorkStatus:
    """An open clock's status at `now`; a deadline passed but not yet flagged is breached."""
    if breached or due_at < now:
        return WorkStatus.breached
    if at_risk_at <= now:
        return WorkStatus.at_risk
    return WorkStatus.open


def due_before(due: Due, *, now: datetime, timezone: ZoneInfo) -> datetime | None:
    """The instant a `due` window ends: local midnight after today, or after this Sunday."""
    today = now.astimezone(timezone).date()
    if due is Due.today:
        return _local_midnight(today + timedelta(days=1), timezone)
    if due is Due.week:
        return _local_midnight(today + timedelta(days=7 - today.weekday()), timezone)
    return None


def _local_midnight(day: date, timezone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone)


@dataclass(slots=True)
class ContactFacts:
    """What a batch of events says about one contact: its reference and latest assignment."""

    subject: UUID
    contact_type: str
    reference: str | None = None
    assignee_id: str | None = None
    assigned_at: datetime | None = None  # None: no assignment among the events


def contact_facts(events: list[CloudEvent]) -> list[ContactFacts]:
    """The reference and the latest assignment per contact among these events, in order met."""
    found: dict[UUID, ContactFacts] = {}
    for event in events:
        if event.type not in ("enquiry.opened", "complaint.received", "enquiry.assigned"):
            continue
        data = event.data
        values = data.__dict__
        facts = found.setdefault(
            data.subject_id, ContactFacts(data.subject_id, event.type.split(".", 1)[0])
        )
        if "reference" in values:
            facts.reference = values["reference"]
        if event.type == "enquiry.assigned":
            at = values["assigned_at"]
            if facts.assigned_at is None or at >= facts.assigned_at:
                facts.assignee_id, facts.assigned_at = values["assignee_id"], at
    return list(found.values())
