"""What happens to alert teams and mails. Functions take the caller's session, never commit.

A breach's mails are queued by whoever records the breach (the consumer, the timers), in that
same transaction, so a crash leaves the breach and its mails or neither; a digest is queued
with the team's last digest day in one transaction, so a restart never queues it twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.events import CloudEvent, ComplaintReceivedData, EnquiryOpenedData
from sla_monitor.alerts import repository
from sla_monitor.alerts.domain import (
    AlertTeam,
    MailKind,
    OpenClock,
    breach_mail_id,
    build_digest,
    covering,
    day_ends_at,
    digest_due,
    digest_mail_id,
    local_day,
)
from sla_monitor.alerts.exceptions import MailOff, TeamExists, TeamNotFound, UnknownServiceArea
from sla_monitor.alerts.render import Rendered, breach_mail, digest_mail
from sla_monitor.clocks.domain import Notice, notice_id

# -- teams -----------------------------------------------------------------------------------------


def _check_areas(service_areas: Sequence[str], known: Sequence[str]) -> None:
    unknown = sorted(set(service_areas) - set(known))
    if unknown:
        raise UnknownServiceArea(unknown, list(known))


async def add_team(
    session: AsyncSession,
    *,
    name: str,
    email: str,
    service_areas: Sequence[str],
    digest_time: time,
    timezone: str,
    enabled: bool,
    known_service_areas: Sequence[str],
    now: datetime,
) -> AlertTeam:
    """Adds a team; TeamExists if the name is taken."""
    _check_areas(service_areas, known_service_areas)
    team = AlertTeam(
        id=uuid4(),
        name=name,
        email=email,
        service_areas=tuple(dict.fromkeys(service_areas)),
        digest_time=digest_time,
        timezone=timezone,
        enabled=enabled,
    )
    if not await repository.insert_team(session, team, now=now):
        raise TeamExists(name)
    return team


async def replace_team(
    session: AsyncSession,
    *,
    name: str,
    email: str,
    service_areas: Sequence[str],
    digest_time: time,
    timezone: str,
    enabled: bool,
    known_service_areas: Sequence[str],
    now: datetime,
) -> AlertTeam:
    """Replaces a team's settings; TeamNotFound if there is no such team."""
    _check_areas(service_areas, known_service_areas)
    current = await get_team(session, name=name)
    team = AlertTeam(
        id=current.id,
        name=name,
        email=email,
        service_areas=tuple(dict.fromkeys(service_areas)),
        digest_time=digest_time,
        timezone=timezone,
        enabled=enabled,
        last_digest_on=current.last_digest_on,
    )
    await repository.update_team(session, team, now=now)
    return team


async def get_team(session: AsyncSession, *, name: str) -> AlertTeam:
    """The team called `name`; TeamNotFound if there is none."""
    team = await repository.team_named(session, name)
    if team is None:
        raise TeamNotFound(name)
    return team


async def list_teams(session: AsyncSession) -> list[AlertTeam]:
    """Every team, by name."""
    return await repository.list_teams(session)


async def remove_team(session: AsyncSession, *, name: str) -> None:
    """Removes a team and its unsent mails; TeamNotFound if there is no such team."""
    if await repository.delete_team(session, name) is None:
        raise TeamNotFound(name)


# -- references and breaches -----------------------------------------------------------------------


async def record_references(session: AsyncSession, *, events: Sequence[CloudEvent]) -> None:
    """Keeps the references of the contacts opened by `events` (for the mails to name them)."""
    references = {
        event.data.subject_id: event.data.reference
        for event in events
        if isinstance(event.data, EnquiryOpenedData | ComplaintReceivedData)
    }
    await repository.record_references(session, references)


def _mail_row(
    *, mail_id: UUID, team: AlertTeam, kind: MailKind, rendered: Rendered, now: datetime
) -> dict[str, Any]:
    return {
        "id": mail_id,
        "team_id": team.id,
        "kind": kind.value,
        "recipient": team.email,
        "subject": rendered.subject,
        "text_body": rendered.text,
        "html_body": rendered.html,
        "created_at": now,
        "next_attempt_at": now,
    }


async def queue_breach_mails(
    session: AsyncSession, *, notices: Sequence[Notice], now: datetime
) -> int:
    """Queues a mail to each team covering a breached clock's service area; how many were new.

    One per (breach notice, team): the mail's id derives from both, so a notice recorded
    again (a redelivered batch) queues nothing more.
    """
    breaches = [n for n in notices if n.kind == "sla.breached"]
    if not breaches:
        return 0
    teams = await repository.list_teams(session, enabled_only=True)
    if not teams:
        return 0
    references = await repository.references_of(session, [n.clock.subject for n in breaches])
    rows = []
    for notice in breaches:
        item = notice.clock
        opened = OpenClock(
            clock_id=item.id,
            reference=references.get(item.subject),
            contact_type=item.contact_type.value,
            contact_id=item.subject,
            commitment=item.commitment,
            service_area=item.service_area,
            due_at=item.due_at,
            at_risk_at=item.at_risk_at,
            status=item.status.value,
            breached_at=item.breached_at,
        )
        for team in covering(teams, item.service_area):
            rows.append(
                _mail_row(
                    mail_id=breach_mail_id(notice_id(notice), team.id),
                    team=team,
                    kind=MailKind.breach,
                    rendered=breach_mail(team, opened),
                    now=now,
                )
            )
    return await repository.queue_mails(session, rows)


# -- digests ---------------------------------------------------------------------------------------


async def _render_digest(
    session: AsyncSession, team: AlertTeam, *, now: datetime, max_rows: int
) -> Rendered:
    day = local_day(now, team.timezone)
    clocks = await repository.open_clocks(
        session,
        service_areas=team.service_areas,
        due_before=day_ends_at(day, team.timezone),
        at_risk_by=now,
    )
    return digest_mail(build_digest(team, clocks, now=now, day=day), max_rows=max_rows)


async def queue_due_digests(
    session: AsyncSession, *, now: datetime, max_rows: int
) -> list[AlertTeam]:
    """Queues the digest of each team whose digest time has come today; the teams queued."""
    queued = []
    for team in await repository.lock_teams_for_digest(session):
        day = digest_due(team, now)
        if day is None:
            continue
        rendered = await _render_digest(session, team, now=now, max_rows=max_rows)
        row = _mail_row(
            mail_id=digest_mail_id(team.id, day),
            team=team,
            kind=MailKind.digest,
            rendered=rendered,
            now=now,
        )
        await repository.queue_mails(session, [row])
        await repository.record_digest(session, team_id=team.id, day=day)
        queued.append(team)
    return queued


async def queue_digest_now(
    session: AsyncSession, *, name: str, now: datetime, max_rows: int, mail_on: bool
) -> UUID:
    """Queues a digest of the team's open clocks now (an operator's manual send); its mail id.

    Each manual send is a mail of its own, and leaves the daily schedule as it was. MailOff if
    no SMTP server is configured (it would wait in the queue for one).
    """
    team = await get_team(session, name=name)
    if not mail_on:
        raise MailOff()
    rendered = await _render_digest(session, team, now=now, max_rows=max_rows)
    mail_id = uuid4()
    await repository.queue_mails(
        session,
        [_mail_row(mail_id=mail_id, team=team, kind=MailKind.digest, rendered=rendered, now=now)],
    )
    return mail_id
