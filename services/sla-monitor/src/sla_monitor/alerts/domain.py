"""The rules of the alert mails, on plain values, no I/O.

What a team is told, and when: a breach in a service area it covers at once; a daily digest of
its open clocks (due today, at risk, breached) once per local day at its digest time. Which
clocks are due, at risk or breached is the worklist's rule (worklist.domain), not one of ours.
A mail carries references, owners, links, commitments, service areas and due times only:
never a resident's personal data (sla-monitor holds none, and a mail must not become the
place it leaks to).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from string import Formatter
from urllib.parse import quote
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from sla_monitor.worklist.domain import WorklistRow, WorkStatus

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


class ContactLinks:
    """Where a mail links a contact to: a URL template per contact type ("*": any type), with
    {reference}, {id} and {type} filled in; none configured, no link."""

    FIELDS = frozenset({"reference", "id", "type"})

    def __init__(self, templates: Mapping[str, str] | None = None) -> None:
        self.templates = {kind: t for kind, t in (templates or {}).items() if t}
        for template in self.templates.values():
            unknown = placeholders(template) - self.FIELDS
            if unknown:
                raise ValueError(
                    f"a contact link template may use {{reference}}, {{id}} and {{type}}, "
                    f"not {{{sorted(unknown)[0]}}}"
                )

    def link(self, row: WorklistRow) -> str | None:
        """The contact's link, or None (no template, or one needing a reference it lacks)."""
        template = self.templates.get(row.subject_type) or self.templates.get("*")
        if template is None or (row.reference is None and "reference" in placeholders(template)):
            return None
        return template.format(
            reference=quote(row.reference or "", safe=""),
            id=row.subject_id,
            type=quote(row.subject_type, safe=""),
        )


NO_LINKS = ContactLinks()


def placeholders(template: str) -> frozenset[str]:
    """The {names} a URL template uses."""
    return frozenset(name for _, name, _, _ in Formatter().parse(template) if name is not None)


def label_of(row: WorklistRow) -> str:
    """The contact as staff know it: its reference, or its type and id if it has none."""
    return row.reference or f"{row.subject_type} {row.subject_id}"


def owner_of(row: WorklistRow) -> str:
    """Who has the contact: the directory's name, else the staff id, else "unassigned"."""
    return row.assignee_name or row.assignee_id or "unassigned"


@dataclass(frozen=True, slots=True)
class Digest:
    """A team's digest of one local day: worklist rows, each in one section."""

    team: AlertTeam
    day: date
    breached: tuple[WorklistRow, ...]
    due_today: tuple[WorklistRow, ...]
    at_risk: tuple[WorklistRow, ...]

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


def build_digest(
    team: AlertTeam,
    *,
    day: date,
    due_today: Sequence[WorklistRow],
    at_risk_or_breached: Sequence[WorklistRow],
) -> Digest:
    """The digest from two worklist answers, with the worklist's statuses: `due=today` and
    `status=at_risk&status=breached` over the team's areas. Breached: a row the worklist calls
    breached; due today: the rest of `due=today`; at risk: the rest. Worklist order in each."""
    rows = {row.clock_id: row for row in [*due_today, *at_risk_or_breached]}
    due_ids = {row.clock_id for row in due_today}
    ordered = sorted(rows.values(), key=lambda row: (row.due_at, row.clock_id))
    return Digest(
        team=team,
        day=day,
        breached=tuple(r for r in ordered if r.status is WorkStatus.breached),
        due_today=tuple(
            r for r in ordered if r.status is not WorkStatus.breached and r.clock_id in due_ids
        ),
        at_risk=tuple(
            r for r in ordered if r.status is not WorkStatus.breached and r.clock_id not in due_ids
        ),
    )


def retry_delay(attempts: int, *, base_seconds: float = 5.0, cap_seconds: float = 300.0) -> float:
    """Seconds before the next try after `attempts` failed ones: doubling, capped."""
    seconds: float = min(base_seconds * 2 ** max(attempts - 1, 0), cap_seconds)
    return seconds
