"""What happens to alert teams and mails. Functions take the caller's session, never commit.

A breach's mails are queued by whoever records the breach (the consumer, the timers), in that
same transaction, so a crash leaves the breach and its mails or neither; a digest is queued
with the team's last digest day in one transaction, so a restart never queues it twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from sla_monitor.alerts import repository
from sla_monitor.alerts.domain import (
    NO_LINKS,
    AlertTeam,
    ContactLinks,
    Digest,
    MailKind,
    breach_mail_id,
    build_digest,
    covering,
    digest_due,
    digest_mail_id,
    local_day,
)
from sla_monitor.alerts.exceptions import MailOff, TeamExists, TeamNotFound, UnknownServiceArea
from sla_monitor.alerts.render import Rendered, breach_mail, digest_mail
from sla_monitor.clocks.domain import Notice, SlaClock, notice_id
from sla_monitor.worklist import repository as worklist
from sla_monitor.worklist.domain import (
    ContactOwner,
    Due,
    WorklistFilters,
    WorklistRow,
    WorkStatus,
    due_before,
)

# -- teams -----------------------------------------------------------------------------------------


def _check_areas(service_areas: Sequence[str], known: Sequence[str]) -> None:
    unknown = sorted(set(service_areas) - set(known))
    if unknown:
        raise UnknownServiceArea(unknown, list(known))


async def add_team(
    session: AsyncSession, *, team: AlertTeam, known_service_areas: Sequence[str], now: datetime
) -> AlertTeam:
    """Adds a team; TeamExists if the name is taken."""
    _check_areas(team.service_areas, known_service_areas)
    if not await repository.insert_team(session, team, now=now):
        raise TeamExists(team.name)
    return team


async def replace_team(
    session: AsyncSession, *, team: AlertTeam, known_service_areas: Sequence[str], now: datetime
) -> AlertTeam:
    """Replaces a team's settings, keeping its id and last digest day; TeamNotFound if there is
    no such team."""
    _check_areas(team.service_areas, known_service_areas)
    current = await get_team(session, name=team.name)
    team = replace(team, id=current.id, last_digest_on=current.last_digest_on)
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


# -- breaches --------------------------------------------------------------------------------------


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


CONTACT_LINKS = "sla_monitor.contact_links"


def links_of(session: AsyncSession) -> ContactLinks:
    """The contact links the session's factory was configured with (main.py), else none.

    Breach mails are queued from the clocks' code, which knows no settings: the links ride on
    the session factory's `info`, as every session of the service gets it.
    """
    links = session.info.get(CONTACT_LINKS)
    return links if isinstance(links, ContactLinks) else NO_LINKS


def _breach_row(item: SlaClock, owner: ContactOwner | None) -> WorklistRow:
    """The breached clock as the worklist shows it, with its contact's reference and owner."""
    owner = owner or ContactOwner(None, None, None, None)
    return WorklistRow(
        clock_id=item.id,
        subject_type=item.contact_type.value,
        subject_id=item.subject,
        reference=owner.reference,
        commitment=item.commitment,
        service_area=item.service_area,
        stage=item.stage.value if item.stage else None,
        assignee_id=owner.assignee_id,
        assignee_name=owner.assignee_name,
        assignee_team=owner.assignee_team,
        started_at=item.started_at,
        due_at=item.due_at,
        at_risk_at=item.at_risk_at,
        status=WorkStatus.breached,
    )


async def queue_breach_mails(
    session: AsyncSession,
    *,
    notices: Sequence[Notice],
    now: datetime,
    links: ContactLinks | None = None,
) -> int:
    """Queues a mail to each team covering a breached clock's service area; how many were new.

    One per (breach notice, team): the mail's id derives from both, so a notice recorded
    again (a redelivered batch) queues nothing more. `links` None: the session's (links_of).
    """
    breaches = [n for n in notices if n.kind == "sla.breached"]
    if not breaches:
        return 0
    teams = await repository.list_teams(session, enabled_only=True)
    if not teams:
        return 0
    links = links if links is not None else links_of(session)
    owners = await worklist.owners_of(session, [n.clock.subject for n in breaches])
    rows = []
    for notice in breaches:
        row = _breach_row(notice.clock, owners.get(notice.clock.subject))
        for team in covering(teams, row.service_area):
            rows.append(
                _mail_row(
                    mail_id=breach_mail_id(notice_id(notice), team.id),
                    team=team,
                    kind=MailKind.breach,
                    rendered=breach_mail(team, row, links=links),
                    now=now,
                )
            )
    return await repository.queue_mails(session, rows)


# -- digests ---------------------------------------------------------------------------------------


async def team_digest(session: AsyncSession, team: AlertTeam, *, now: datetime) -> Digest:
    """The team's digest as at `now`: what the worklist lists for its service areas with
    `due=today` and with `status=at_risk&status=breached` (today: the team's local day)."""
    areas = frozenset(team.service_areas)
    ends = due_before(Due.today, now=now, timezone=ZoneInfo(team.timezone))
    due_today = await worklist.worklist_rows(
        session, now=now, filters=WorklistFilters(service_areas=areas, due_before=ends)
    )
    urgent = WorklistFilters(
        service_areas=areas, statuses=frozenset({WorkStatus.at_risk, WorkStatus.breached})
    )
    at_risk_or_breached = await worklist.worklist_rows(session, now=now, filters=urgent)
    return build_digest(
        team,
        day=local_day(now, team.timezone),
        due_today=due_today,
        at_risk_or_breached=at_risk_or_breached,
    )


async def _render_digest(
    session: AsyncSession, team: AlertTeam, *, now: datetime, max_rows: int, links: ContactLinks
) -> Rendered:
    digest = await team_digest(session, team, now=now)
    return digest_mail(digest, max_rows=max_rows, links=links)


async def queue_due_digests(
    session: AsyncSession, *, now: datetime, max_rows: int, links: ContactLinks = NO_LINKS
) -> list[AlertTeam]:
    """Queues the digest of each team whose digest time has come today; the teams queued."""
    queued = []
    for team in await repository.lock_teams_for_digest(session):
        day = digest_due(team, now)
        if day is None:
            continue
        rendered = await _render_digest(session, team, now=now, max_rows=max_rows, links=links)
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
    session: AsyncSession,
    *,
    name: str,
    now: datetime,
    max_rows: int,
    mail_on: bool,
    links: ContactLinks = NO_LINKS,
) -> UUID:
    """Queues a digest of the team's open clocks now (an operator's manual send); its mail id.

    Each manual send is a mail of its own, and leaves the daily schedule as it was. MailOff if
    no SMTP server is configured (it would wait in the queue for one).
    """
    team = await get_team(session, name=name)
    if not mail_on:
        raise MailOff()
    rendered = await _render_digest(session, team, now=now, max_rows=max_rows, links=links)
    mail_id = uuid4()
    await repository.queue_mails(
        session,
        [_mail_row(mail_id=mail_id, team=team, kind=MailKind.digest, rendered=rendered, now=now)],
    )
    return mail_id
