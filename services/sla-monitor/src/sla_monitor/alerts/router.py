"""/v1/alert-teams: who is mailed about which service areas' clocks, and when (admin only)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response, status

from contact_common.auth import require_scope
from contact_common.errors import PROBLEM_RESPONSES, ProblemError
from contact_common.events import Slug
from contact_common.service import SessionDep
from sla_monitor.alerts import service
from sla_monitor.alerts.exceptions import (
    AlertError,
    MailOff,
    TeamExists,
    TeamNotFound,
    UnknownServiceArea,
)
from sla_monitor.alerts.schemas import DigestQueued, TeamIn, TeamOut, TeamSettings
from sla_monitor.dependencies import ClockDep, SettingsDep

router = APIRouter(
    prefix="/v1/alert-teams", tags=["alerts"], dependencies=[Depends(require_scope("admin"))]
)
_ERRORS: dict[int | str, dict[str, Any]] = {s: PROBLEM_RESPONSES[s] for s in (401, 403, 404, 422)}
_ERRORS_OR_CONFLICT = {**_ERRORS, 409: PROBLEM_RESPONSES[409]}
TeamName = Annotated[Slug, Path(description="The team's name.")]


@asynccontextmanager
async def _problems() -> AsyncIterator[None]:
    """Maps the alert services' refusals to problem documents."""
    try:
        yield
    except TeamNotFound as exc:
        raise ProblemError(404, str(exc), problem="alert-team-not-found") from exc
    except TeamExists as exc:
        raise ProblemError(409, str(exc), problem="alert-team-exists") from exc
    except UnknownServiceArea as exc:
        raise ProblemError(
            422, str(exc), problem="unknown-service-area", field="body.service_areas"
        ) from exc
    except MailOff as exc:
        raise ProblemError(409, str(exc), problem="alert-mail-off") from exc
    except AlertError as exc:  # pragma: no cover - every refusal has its own status above
        raise ProblemError(422, str(exc), problem="alert-refused") from exc


@router.get("", response_model=list[TeamOut], summary="Alert teams", responses=_ERRORS)
async def list_teams(session: SessionDep) -> list[TeamOut]:
    """Every alert team, by name."""
    return [TeamOut.of(t) for t in await service.list_teams(session)]


@router.post(
    "",
    response_model=TeamOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add an alert team",
    responses=_ERRORS_OR_CONFLICT,
)
async def add_team(
    body: TeamIn, session: SessionDep, settings: SettingsDep, clock: ClockDep
) -> TeamOut:
    """Adds a team: mailed at once about each breach in its service areas, and a daily digest
    of their open clocks at its digest time. 409 if the name is taken."""
    async with _problems():
        team = await service.add_team(
            session,
            team=body.team(name=body.name),
            known_service_areas=settings.service_areas,
            now=clock.now(),
        )
    return TeamOut.of(team)


@router.get("/{name}", response_model=TeamOut, summary="An alert team", responses=_ERRORS)
async def get_team(name: TeamName, session: SessionDep) -> TeamOut:
    """One team by name."""
    async with _problems():
        return TeamOut.of(await service.get_team(session, name=name))


@router.put("/{name}", response_model=TeamOut, summary="Change an alert team", responses=_ERRORS)
async def replace_team(
    name: TeamName, body: TeamSettings, session: SessionDep, settings: SettingsDep, clock: ClockDep
) -> TeamOut:
    """Replaces a team's mailbox, service areas, digest time and whether it is enabled."""
    async with _problems():
        team = await service.replace_team(
            session,
            team=body.team(name=name),
            known_service_areas=settings.service_areas,
            now=clock.now(),
        )
    return TeamOut.of(team)


@router.delete(
    "/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Remove an alert team",
    responses=_ERRORS,
)
async def remove_team(name: TeamName, session: SessionDep) -> Response:
    """Removes a team; its mails not yet sent are dropped."""
    async with _problems():
        await service.remove_team(session, name=name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{name}/digest",
    response_model=DigestQueued,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a team's digest now",
    responses=_ERRORS_OR_CONFLICT,
)
async def send_digest(
    name: TeamName, session: SessionDep, settings: SettingsDep, clock: ClockDep
) -> DigestQueued:
    """Queues the team's digest of its open clocks now, sent within seconds; the daily
    schedule is unchanged. 409 while alert mail is off (no SLA_SMTP_HOST)."""
    async with _problems():
        mail_id = await service.queue_digest_now(
            session,
            name=name,
            now=clock.now(),
            max_rows=settings.alert_digest_max_rows,
            mail_on=settings.alerts_enabled,
            links=settings.contact_links,
        )
    return DigestQueued(team=name, mail_id=mail_id)
