"""The alert mails' words: a subject, plain text and a simple HTML alternative, no I/O.

Only references, commitments, service areas and times go in; times are shown in the team's
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

from sla_monitor.alerts.domain import AlertTeam, Digest, OpenClock, Section

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


def _row(item: OpenClock, timezone: str) -> tuple[str, str, str, str]:
    return (item.label, item.commitment, item.service_area or "-", _local(item.due_at, timezone))


def breach_mail(team: AlertTeam, item: OpenClock) -> Rendered:
    """The mail telling `team` at once that `item` has breached its commitment."""
    label, commitment, area, due = _row(item, team.timezone)
    subject = f"[{team.name}] SLA breach: {label} missed {commitment}"
    lines = [
        f"A service commitment was missed in a service area the {team.name} team covers.",
        "",
        f"Reference:     {label}",
        f"Commitment:    {commitment}",
        f"Service area:  {area}",
        f"Was due:       {due}",
        "",
        "The contact is still waiting unless it has been answered since this mail was sent.",
    ]
    html = (
        f"<p>A service commitment was missed in a service area the "
        f"<strong>{escape(team.name)}</strong> team covers.</p>"
        + _html_table(
            ("Reference", "Commitment", "Service area", "Was due"), [(label, commitment, area, due)]
        )
    )
    return Rendered(subject=subject, text="\n".join(lines) + "\n", html=_page(subject, html))


def digest_mail(digest: Digest, *, max_rows: int) -> Rendered:
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
    for section, items in (
        (Section.due_today, digest.due_today),
        (Section.at_risk, digest.at_risk),
        (Section.breached, digest.breached),
    ):
        title = f"{SECTION_TITLES[section]}: {len(items)}"
        rows = [_row(item, team.timezone) for item in items[:max_rows]]
        more = len(items) - len(rows)
        text.append(title)
        text.extend(f"  {r[0]}  {r[1]}  {r[2]}  due {r[3]}" for r in rows)
        html.append(f"<h3>{escape(title)}</h3>")
        if rows:
            html.append(_html_table(("Reference", "Commitment", "Service area", "Due"), rows))
        if more:
            text.append(f"  ... and {more} more")
            html.append(f"<p>... and {more} more</p>")
        text.append("")
    return Rendered(subject=subject, text="\n".join(text), html=_page(subject, "".join(html)))


def _html_table(headings: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    head = "".join(f"<th align='left'>{escape(h)}</th>" for h in headings)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
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
