"""What /v1/alert-teams takes and gives."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Self
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from contact_common.events import ServiceArea, Slug
from sla_monitor.alerts.domain import AlertTeam

# A mailbox, checked for shape only (the SMTP server is the judge of whether it exists): printable
# ASCII without spaces or header syntax, so it can go in a To header as it is.
Email = Annotated[
    str,
    StringConstraints(
        max_length=254,
        pattern=r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$",
    ),
]


def _a_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not an IANA time zone, e.g. Europe/London") from exc
    return name


def _wall_time(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("a local wall time without an offset, e.g. 08:00 (see timezone)")
    return value.replace(second=0, microsecond=0)


TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_a_zone)]
WallTime = Annotated[time, AfterValidator(_wall_time)]


class TeamSettings(BaseModel):
    """A team's mailbox, service areas and daily digest time."""

    model_config = ConfigDict(extra="forbid")

    email: Email = Field(
        description="Where the team's alert mails go.", examples=["waste@example.gov.uk"]
    )
    service_areas: list[ServiceArea] = Field(
        min_length=1,
        max_length=64,
        description="The service areas it covers: it is mailed about their clocks only.",
        examples=[["waste", "environmental_health"]],
    )
    digest_time: WallTime = Field(
        default=time(8, 0),
        description="The local time of the daily digest, HH:MM in `timezone`.",
        examples=["08:00"],
    )
    timezone: TimeZone = Field(default="Europe/London", description="An IANA time zone.")
    enabled: bool = Field(default=True, description="False pauses the team's mails.")

    def team(self, *, name: str) -> AlertTeam:
        """The team `name` with these settings, under a new id (a replacement keeps its own)."""
        return AlertTeam(
            id=uuid4(),
            name=name,
            email=self.email,
            service_areas=tuple(dict.fromkeys(self.service_areas)),
            digest_time=self.digest_time,
            timezone=self.timezone,
            enabled=self.enabled,
        )


class TeamIn(TeamSettings):
    """A new alert team."""

    name: Slug = Field(description="The team's name, unique, e.g. `waste-team`.")


class TeamOut(BaseModel):
    """An alert team as stored."""

    id: UUID
    name: str
    email: str
    service_areas: list[str]
    digest_time: time
    timezone: str
    enabled: bool
    last_digest_on: date | None = Field(
        description="The local day of its last scheduled digest, if any."
    )

    @classmethod
    def of(cls, team: AlertTeam) -> Self:
        """The response for a team."""
        return cls.model_validate(team, from_attributes=True)


class DigestQueued(BaseModel):
    """A manual digest, queued to be sent within seconds."""

    team: str
    mail_id: UUID
