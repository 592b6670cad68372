"""`contactctl alerts`: the teams sla-monitor mails about breaches and a daily digest."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

alerts = typer.Typer(help="Alert mails from sla-monitor: teams and digests.", no_args_is_help=True)
teams = typer.Typer(help="The teams mailed, per service area.", no_args_is_help=True)
alerts.add_typer(teams, name="teams")
console = Console()

SlaUrl = Annotated[str, typer.Option(envvar="SLA_URL", help="sla-monitor's base URL.")]
ApiKey = Annotated[
    str | None,
    typer.Option(
        help="An admin API key (default: DEV_API_KEY, then var/dev-admin-key).",
        show_default=False,
    ),
]


def _call(method: str, url: str, api_key: str | None, body: Any = None) -> Any:
    """Sends a request to sla-monitor with the shared client call, or exits with its problem."""
    from contactctl.main import _api_key  # main imports this module: a late import
    from contactctl.main import _call as call

    return call(method, url, _api_key(api_key), body=body)


def _teams_url(sla_url: str, *parts: str) -> str:
    return "/".join([sla_url.rstrip("/"), "v1/alert-teams", *parts])


@teams.command("add")
def teams_add(
    name: Annotated[str, typer.Argument(help="The team's name, e.g. waste-team.")],
    email: Annotated[str, typer.Option(help="The team's mailbox.")],
    service_area: Annotated[
        list[str], typer.Option(help="A service area it covers; repeat for each.")
    ],
    digest_time: Annotated[str, typer.Option(help="Local time of the daily digest.")] = "08:00",
    timezone: Annotated[str, typer.Option(help="An IANA time zone.")] = "Europe/London",
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it paused.")] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Change the team if it exists already.")
    ] = False,
    sla_url: SlaUrl = "http://127.0.0.1:8003",
    api_key: ApiKey = None,
) -> None:
    """Adds a team (or, with --replace, changes one)."""
    body: dict[str, Any] = {
        "email": email,
        "service_areas": service_area,
        "digest_time": digest_time,
        "timezone": timezone,
        "enabled": not disabled,
    }
    if replace:
        team = _call("PUT", _teams_url(sla_url, name), api_key, body)
    else:
        team = _call("POST", _teams_url(sla_url), api_key, {"name": name, **body})
    console.print(
        f"alert team {team['name']} -> {team['email']}: {', '.join(team['service_areas'])}"
    )


@teams.command("list")
def teams_list(sla_url: SlaUrl = "http://127.0.0.1:8003", api_key: ApiKey = None) -> None:
    """Lists the teams."""
    table = Table("name", "email", "service areas", "digest", "enabled", "last digest")
    for team in _call("GET", _teams_url(sla_url), api_key):
        table.add_row(
            team["name"],
            team["email"],
            ", ".join(team["service_areas"]),
            f"{team['digest_time'][:5]} {team['timezone']}",
            "yes" if team["enabled"] else "no",
            team["last_digest_on"] or "-",
        )
    console.print(table)


@teams.command("remove")
def teams_remove(
    name: Annotated[str, typer.Argument(help="The team's name.")],
    sla_url: SlaUrl = "http://127.0.0.1:8003",
    api_key: ApiKey = None,
) -> None:
    """Removes a team (its unsent mails are dropped)."""
    _call("DELETE", _teams_url(sla_url, name), api_key)
    console.print(f"alert team {name} removed")


@alerts.command("send-digest")
def send_digest(
    team: Annotated[str, typer.Option("--team", help="The team's name.")],
    sla_url: SlaUrl = "http://127.0.0.1:8003",
    api_key: ApiKey = None,
) -> None:
    """Sends the team's digest of its open clocks now (the daily schedule is unchanged)."""
    queued = _call("POST", _teams_url(sla_url, team, "digest"), api_key)
    console.print(f"digest for {queued['team']} queued (mail {queued['mail_id']})")
