"""The rules of the alert mails, on plain values, no I/O.

What a team is told, and when: a breach in a service area it covers at once; a daily digest of
its open clocks (due today, at risk, breached) once per local day at its digest time. A mail
carries references, commitments, service areas and due times only: never a resident's
personal data (sla-monitor holds none, and a mail must not become the place it leaks to).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

# Mail ids are derived, not drawn: the same breach notice for the same team, or the same
# team's digest of the same day, is one row however often it is queued.
MAIL_NAMESPACE = UUID("0b6f2d8e-3c1a-4f53-9d7e-6a1c2b9e8f40")


class MailKind(StrEnum):
    """What a mail is about."""

    breach = "breach"
    digest = "digest"


class Section(StrEnum):
    """A part of the digest; each open clock is in one of them at most."""

    breached = "breached"
    due_today = "due_today"
    at_risk = "at_risk"


@dataclass(frozen=True, slots=True)
class AlertTeam:
    """A team that is mailed about the clocks of the service areas it covers."""

    id: UUID
    name: str
    email: str
    service_areas: tuple[str, ...]
    digest_time: time
    timezone: str
    enabled: bool = True
    last_digest_on: date | None = None


@dataclass(frozen=True, slots=True)
class OpenClock:
    """An open clock as a mail names it: no personal data, only what staff act on."""

    clock_id: UUID
    reference: str | None
    contact_type: str
    contact_id: UUID
    commitment: str
    service_area: str | None
    due_at: datetime
    at_risk_at: datetime
    status: str
    breached_at: datetime | None = None

    @property
    def label(self) -> str:
        """The contact as staff know it: its reference, or its type and id if it has none."""
        return self.reference or f"{self.contact_type} {self.contact_id}"


@dataclass(frozen=True, slots=True)
class Digest:
    """A team's digest of one local day."""

    team: AlertTeam
    day: date
    breached: tuple[OpenClock, ...]
    due_today: tuple[OpenClock, ...]
    at_risk: tuple[OpenClock, ...]

    @property
    def counts(self) -> dict[Section, int]:
        """How many clocks each section lists."""
        return {
            Section.due_today: len(self.due_today),
            Section.at_risk: len(self.at_risk),
            Section.breached: len(self.breached),
        }


def covering(teams: Iterable[AlertTeam], service_area: str | None) -> list[AlertTeam]:
    """The enabled teams that cover `service_area` (a clock with none is nobody's)."""
    if service_area is None:
        return []
    return [t for t in teams if t.enabled and service_area in t.service_areas]


def breach_mail_id(notice_id: UUID, team_id: UUID) -> UUID:
    """The id of a breach's mail to a team: one per (breach notice, team), however replayed."""
    return uuid5(MAIL_NAMESPACE, f"breach/{notice_id}/{team_id}")


def digest_mail_id(team_id: UUID, day: date) -> UUID:
    """The id of a team's scheduled digest of `day`: one per team and local day."""
    return uuid5(MAIL_NAMESPACE, f"digest/{team_id}/{day.isoformat()}")


def local_day(now: datetime, timezone: str) -> date:
    """The date it is in `timezone` at the instant `now`."""
    return now.astimezone(ZoneInfo(timezone)).date()


def day_ends_at(day: date, timezone: str) -> datetime:
    """The instant the local `day` ends (the next local midnight): 23, 24 or 25 hours on."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(timezone))


def digest_due(team: AlertTeam, now: datetime) -> date | None:
    """The local day whose digest is due at `now`, or None (sent already, or not yet time).

    A digest time compared as a local wall time is DST-safe: on the spring day that skips it
    (01:30 on the last Sunday of March) the first instant after the gap is past it, and on the
    autumn day that repeats it, `last_digest_on` stops a second send. A service that was down
    at the digest time sends that day's digest when it is back, never an earlier day's.
    """
    if not team.enabled:
        return None
    local = now.astimezone(ZoneInfo(team.timezone))
    today = local.date()
    if team.last_digest_on is not None and team.last_digest_on >= today:
        return None
    if local.time().replace(tzinfo=None) < team.digest_time:
        return None
    return today


def section_of(item: OpenClock, *, now: datetime, day_end: datetime) -> Section | None:
    """Where an open clock goes in a digest, or None if it is not one to mention.

    Breached: flagged, with no stop yet. Due today: running, its deadline before the local day
    ends (one just past its deadline, its breach not flagged yet, still counts). At risk:
    running, past its at-risk moment, due on a later day. Each clock in one section only,
    the most urgent.
    """
    if item.status == "breached":
        return Section.breached
    if item.status != "pending":
        return None
    if item.due_at < day_end:
        return Section.due_today
    if item.at_risk_at <= now:
        return Section.at_risk
    return None


def build_digest(
    team: AlertTeam, clocks: Sequence[OpenClock], *, now: datetime, day: date
) -> Digest:
    """The team's digest of `day` from its service areas' open clocks, each section by due time."""
    day_end = day_ends_at(day, team.timezone)
    sections: dict[Section, list[OpenClock]] = {s: [] for s in Section}
    for item in clocks:
        if item.service_area not in team.service_areas:
            continue
        section = section_of(item, now=now, day_end=day_end)
        if section is not None:
            sections[section].append(item)

    def ordered(section: Section) -> tuple[OpenClock, ...]:
        return tuple(sorted(sections[section], key=lambda c: (c.due_at, c.label, c.commitment)))

    return Digest(
        team=team,
        day=day,
        breached=ordered(Section.breached),
        due_today=ordered(Section.due_today),
        at_risk=ordered(Section.at_risk),
    )


def retry_delay(attempts: int, *, base_seconds: float = 5.0, cap_seconds: float = 300.0) -> float:
    """Seconds before the next try after `attempts` failed ones: doubling, capped."""
    seconds: float = min(base_seconds * 2 ** max(attempts - 1, 0), cap_seconds)
    return seconds
