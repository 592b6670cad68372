"""The SQL of the alerts: teams and the mail queue. The digest's clocks are the worklist's
(worklist.repository.worklist_rows): one definition of due today, at risk and breached."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.db import insert_for
from sla_monitor.alerts.domain import AlertTeam
from sla_monitor.alerts.models import alert_mail, alert_team


def team_from_row(row: Row[Any]) -> AlertTeam:
    """A team from its row."""
    return AlertTeam(
        id=row.id,
        name=row.name,
        email=row.email,
        service_areas=tuple(row.service_areas),
        digest_time=row.digest_time,
        timezone=row.timezone,
        enabled=row.enabled,
        last_digest_on=row.last_digest_on,
    )


# -- teams -----------------------------------------------------------------------------------------


async def list_teams(session: AsyncSession, *, enabled_only: bool = False) -> list[AlertTeam]:
    """The teams by name."""
    statement = select(alert_team).order_by(alert_team.c.name)
    if enabled_only:
        statement = statement.where(alert_team.c.enabled.is_(True))
    return [team_from_row(row) for row in await session.execute(statement)]


async def team_named(session: AsyncSession, name: str) -> AlertTeam | None:
    """The team called `name`, if there is one."""
    row = (await session.execute(select(alert_team).where(alert_team.c.name == name))).first()
    return team_from_row(row) if row else None


async def insert_team(session: AsyncSession, team: AlertTeam, *, now: datetime) -> bool:
    """Adds a team; False if one of that name exists already."""
    statement = (
        insert_for(session, alert_team)
        .values(**_team_values(team), id=team.id, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=[alert_team.c.name])
    )
    result = await session.execute(statement)
    # An INSERT or UPDATE runs on a cursor; execute() is typed to give a Result, without rowcount.
    return bool(cast(CursorResult[Any], result).rowcount)


async def update_team(session: AsyncSession, team: AlertTeam, *, now: datetime) -> bool:
    """Replaces a team's settings (by name); False if there is no such team."""
    result = await session.execute(
        update(alert_team)
        .where(alert_team.c.name == team.name)
        .values(**_team_values(team), updated_at=now)
    )
    return bool(cast(CursorResult[Any], result).rowcount)


def _team_values(team: AlertTeam) -> dict[str, Any]:
    return {
        "name": team.name,
        "email": team.email,
        "service_areas": list(team.service_areas),
        "digest_time": team.digest_time,
        "timezone": team.timezone,
        "enabled": team.enabled,
    }


async def delete_team(session: AsyncSession, name: str) -> UUID | None:
    """Removes a team and its unsent mails; its id, or None if there was no such team."""
    team_id = await session.scalar(
        delete(alert_team).where(alert_team.c.name == name).returning(alert_team.c.id)
    )
    if team_id is not None:
        await session.execute(
            delete(alert_mail).where(
                alert_mail.c.team_id == team_id, alert_mail.c.sent_at.is_(None)
            )
        )
    return team_id


async def lock_teams_for_digest(session: AsyncSession) -> list[AlertTeam]:
    """The enabled teams, locked; a team another instance is digesting now is skipped."""
    statement = (
        select(alert_team)
        .where(alert_team.c.enabled.is_(True))
        .order_by(alert_team.c.name)
        .with_for_update(skip_locked=True)
    )
    return [team_from_row(row) for row in await session.execute(statement)]


async def record_digest(session: AsyncSession, *, team_id: UUID, day: Any) -> None:
    """Notes that `day`'s scheduled digest of the team is queued."""
    await session.execute(
        update(alert_team).where(alert_team.c.id == team_id).values(last_digest_on=day)
    )


# -- the mail queue --------------------------------------------------------------------------------


async def queue_mails(session: AsyncSession, mails: Sequence[dict[str, Any]]) -> int:
    """Queues mails; one whose id is queued already is left as it is. How many were new."""
    if not mails:
        return 0
    result = await session.execute(
        insert_for(session, alert_mail)
        .values(list(mails))
        .on_conflict_do_nothing(index_elements=[alert_mail.c.id])
    )
    return int(cast(CursorResult[Any], result).rowcount or 0)


async def claim_due_mails(session: AsyncSession, *, now: datetime, limit: int) -> list[Row[Any]]:
    """Unsent mails due a try, locked until this transaction ends (others skip them)."""
    statement = (
        select(alert_mail)
        .where(
            alert_mail.c.sent_at.is_(None),
            alert_mail.c.abandoned_at.is_(None),
            alert_mail.c.next_attempt_at <= now,
        )
        .order_by(alert_mail.c.next_attempt_at, alert_mail.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(await session.execute(statement))


async def mark_mail(session: AsyncSession, mail_id: UUID, **values: Any) -> None:
    """Records a try's outcome on a mail."""
    await session.execute(update(alert_mail).where(alert_mail.c.id == mail_id).values(**values))


async def mails_to(session: AsyncSession, team_id: UUID) -> list[Row[Any]]:
    """A team's mails, oldest first (for the operator and the tests)."""
    result = await session.execute(
        select(alert_mail)
        .where(alert_mail.c.team_id == team_id)
        .order_by(alert_mail.c.created_at, alert_mail.c.id)
    )
    return list(result)
