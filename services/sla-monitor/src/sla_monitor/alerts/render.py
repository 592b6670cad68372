"""The alert mails' words: a subject, plain text and a simple HTML alternative, no I/O.

Only references (linked when a contact link template is set), owners, commitments, service
areas and times go in; times are shown in the team's
own time zone, with the zone's abbreviation (GMT or BST), so nobody converts from UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from html import escape
from uuid import UUID
from zoneinfo import ZoneInfo

from sla_monitor.alerts.domain import (
    NO_LINKS,
    AlertTeam,
    ContactLinks,
    Digest,
    Section,
    label_of,
    owner_of,
)
from sla_monitor.worklist.domain import WorklistRow

SECTION_TITLES = {
    Section.breached: "Breached (open, still to chase)",
    Section.due_today: "Due today",
    Section.at_risk: "At risk",
}

# Headers unfolded up to RFC 5322's 998 characters: a folded subject reads back with a leading
# space in some clients.
_POLICY = SMTP.clone(max_line_length=998)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A mail's words, ready to queue."""

    subject: str
    text: str
    html: str


def _local(at: datetime, timezone: str) -> str:
    return at.astimezone(ZoneInfo(timezone)).strftime("%a %d %b %Y %H:%M %Z")


@dataclass(frozen=True, slots=True)
class _Line:
    """A clock as a mail shows it."""

    label: str
    link: str | None
    owner: str
    commitment: str
    area: str
    due: str

    @classmethod
    def of(cls, row: WorklistRow, *, timezone: str, links: ContactLinks) -> _Line:
        return cls(
            label=label_of(row),
            link=links.link(row),
            owner=owner_of(row),
            commitment=row.commitment,
            area=row.service_area or "-",
            due=_local(row.due_at, timezone),
        )

    def text(self) -> str:
        linked = f"  {self.link}" if self.link else ""
        return (
            f"  {self.label}  {self.commitment}  {self.area}  due {self.due}"
            f"  owner {self.owner}{linked}"
        )


_HEADINGS = ("Reference", "Owner", "Commitment", "Service area", "Due")


def breach_mail(team: AlertTeam, row: WorklistRow, *, links: ContactLinks = NO_LINKS) -> Rendered:
    """The mail telling `team` at once that `row`'s clock has breached its commitment."""
    line = _Line.of(row, timezone=team.timezone, links=links)
    subject = f"[{team.name}] SLA breach: {line.label} missed {line.commitment}"
    lines = [
        f"A service commitment was missed in a service area the {team.name} team covers.",
        "",
        f"Reference:     {line.label}",
        *([f"Open it:       {line.link}"] if line.link else []),
        f"Owner:         {line.owner}",
        f"Commitment:    {line.commitment}",
        f"Service area:  {line.area}",
        f"Was due:       {line.due}",
        "",
        "The contact is still waiting unless it has been answered since this mail was sent.",
    ]
    html = (
        f"<p>A service commitment was missed in a service area the "
        f"<strong>{escape(team.name)}</strong> team covers.</p>" + _html_table([line])
    )
    return Rendered(subject=subject, text="\n".join(lines) + "\n", html=_page(subject, html))


def digest_mail(digest: Digest, *, max_rows: int, links: ContactLinks = NO_LINKS) -> Rendered:
    """The team's daily digest: counts, then each section's clocks by due time."""
    team = digest.team
    counts = digest.counts
    summary = (
        f"{counts[Section.due_today]} due today, {counts[Section.at_risk]} at risk, "
        f"{counts[Section.breached]} breached"
    )
    subject = f"[{team.name}] SLA digest {digest.day:%a %d %b %Y}: {summary}"
    text = [f"Open clocks in the service areas of the {team.name} team: {summary}.", ""]
    html = [
        f"<p>Open clocks in the service areas of the <strong>{escape(team.name)}</strong> "
        f"team: {escape(summary)}.</p>"
    ]
    for section, rows in (
        (Section.due_today, digest.due_today),
        (Section.at_risk, digest.at_risk),
        (Section.breached, digest.breached),
    ):
        title = f"{SECTION_TITLES[section]}: {len(rows)}"
        lines = [_Line.of(row, timezone=team.timezone, links=links) for row in rows[:max_rows]]
        more = len(rows) - len(lines)
        text.append(title)
        text.extend(line.text() for line in lines)
        html.append(f"<h3>{escape(title)}</h3>")
        if lines:
            html.append(_html_table(lines))
        if more:
            text.append(f"  ... and {more} more")
            html.append(f"<p>... and {more} more</p>")
        text.append("")
    return Rendered(subject=subject, text="\n".join(text), html=_page(subject, "".join(html)))


def _html_table(lines: Sequence[_Line]) -> str:
    head = "".join(f"<th align='left'>{escape(h)}</th>" for h in _HEADINGS)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{cell}</td>"
            for cell in (
                f"<a href='{escape(line.link)}'>{escape(line.label)}</a>"
                if line.link
                else escape(line.label),
                escape(line.owner),
                escape(line.commitment),
                escape(line.area),
                escape(line.due),
            )
        )
        + "</tr>"
        for line in lines
    )
    return f"<table cellpadding='4'><tr>{head}</tr>{body}</table>"


def _page(title: str, body: str) -> str:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"</head><body>{body}</body></html>"
    )


def message(
    *, mail_id: UUID, sender: str, recipient: str, rendered: Rendered, now: datetime
) -> EmailMessage:
    """The MIME message: plain text with an HTML alternative, a Message-ID from the mail's id.

    The Message-ID is the same on a retry, so a mail sent twice (a crash between the server's
    acceptance and our record of it) can be recognised as one by the receiving system.
    """
    mail = EmailMessage(policy=_POLICY)
    mail["Subject"] = rendered.subject
    mail["From"] = sender
    mail["To"] = recipient
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = f"<{mail_id}@sla-monitor>"
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(rendered.text)
    mail.add_alternative(rendered.html, subtype="html")
    return mail
