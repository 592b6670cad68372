"""contactctl: API keys, migrations, the commitments policy, breaches, webhooks, alert
teams, the staff directory, SLA replay, the demo year."""

from __future__ import annotations

import asyncio
import csv
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column, Table

from contact_common.auth import SCOPES, issue_key, key_file_summary, revoke_key
from contact_common.commitments import Policy, PolicyError, load_policy
from contact_common.migrations import upgrade
from contactctl.alerts import alerts
from contactctl.demo import DemoYear, financial_year, summarise
from contactctl.loader import LoadAborted, LoadReport, load

app = typer.Typer(help="Operate the council contact platform.", no_args_is_help=True)
keys = typer.Typer(help="API keys with scopes.", no_args_is_help=True)
demo = typer.Typer(help="A realistic demonstration year of contacts.", no_args_is_help=True)
policy = typer.Typer(
    help="The commitments policy every service keeps (POLICY).", no_args_is_help=True
)
breaches = typer.Typer(help="Missed commitments, from sla-monitor.", no_args_is_help=True)
sla = typer.Typer(help="sla-monitor operations.", no_args_is_help=True)
webhooks = typer.Typer(
    help="Signed webhooks of sla.* events, from sla-monitor (an admin key).", no_args_is_help=True
)
staff = typer.Typer(
    help="The staff directory sla-monitor names owners from (admin key).", no_args_is_help=True
)
app.add_typer(keys, name="keys")
app.add_typer(demo, name="demo")
app.add_typer(policy, name="policy")
app.add_typer(breaches, name="breaches")
app.add_typer(sla, name="sla")
app.add_typer(alerts, name="alerts")
app.add_typer(webhooks, name="webhooks")
app.add_typer(staff, name="staff")
console = Console()

KeysFile = Annotated[
    Path, typer.Option(envvar="API_KEYS_FILE", help="The key file the services read.")
]


@keys.command("issue")
def keys_issue(
    name: Annotated[str, typer.Option(help="Who the key is for, e.g. 'standby-contractor'.")],
    scope: Annotated[list[str], typer.Option(help=f"Repeat for each scope: {', '.join(SCOPES)}.")],
    keys_file: KeysFile = Path("var/api-keys.json"),
    rate_limit: Annotated[
        str | None,
        typer.Option(
            help="This key's own limit per service, e.g. '20/second' or '1000 per 10 minutes' "
            "('0' for none); without it the services' RATE_LIMIT applies.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Issues a key and prints it once: it is stored only as a hash."""
    try:
        token = issue_key(keys_file, name=name, scopes=scope, rate_limit=rate_limit)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    console.print(token)


@keys.command("list")
def keys_list(keys_file: KeysFile = Path("var/api-keys.json")) -> None:
    """Lists the keys: ids, names, scopes and dates, never secrets."""
    table = Table("key id", "name", "scopes", "rate limit", "created", "revoked")
    for key in key_file_summary(keys_file):
        table.add_row(
            key["key_id"],
            key["name"],
            " ".join(key["scopes"]),
            key["rate_limit"] or "default",
            key["created_at"],
            key["revoked_at"] or "",
        )
    console.print(table)


@keys.command("revoke")
def keys_revoke(key_id: str, keys_file: KeysFile = Path("var/api-keys.json")) -> None:
    """Revokes a key; the services refuse it within a second."""
    if not revoke_key(keys_file, key_id):
        console.print(f"no active key {key_id}")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")


@app.command("migrate")
def migrate(
    service_dir: Annotated[Path, typer.Argument(help="e.g. services/enquiry-api")],
    database_url: Annotated[str, typer.Option(envvar="DATABASE_URL")],
    revision: str = "head",
) -> None:
    """Applies a service's migrations."""
    asyncio.run(upgrade(service_dir, database_url, revision))
    console.print(f"{service_dir.name}: at {revision}")


# -- shared options ---------------------------------------------------------------------------


def default_api_key() -> str | None:
    """DEV_API_KEY, or the key `make run` keeps in var/dev-admin-key (VAR_DIR if set)."""
    if os.environ.get("DEV_API_KEY"):
        return os.environ["DEV_API_KEY"]
    path = Path(os.environ.get("VAR_DIR", "var")) / "dev-admin-key"
    return path.read_text().strip() if path.is_file() else None


def _api_key(given: str | None) -> str:
    key = given or default_api_key()
    if not key:
        raise typer.BadParameter(
            "give --api-key, set DEV_API_KEY, or run `make run` first "
            "(it writes var/dev-admin-key)",
            param_hint="--api-key",
        )
    return key


ApiKey = Annotated[
    str | None,
    typer.Option(
        help="An API key (default: DEV_API_KEY, then var/dev-admin-key).", show_default=False
    ),
]
SlaUrl = Annotated[str, typer.Option(envvar="SLA_URL", help="sla-monitor's base URL.")]
TableOrCsv = Annotated[str, typer.Option("--format", help="table or csv.", case_sensitive=False)]


def _as_csv(output: str) -> bool:
    """True for `--format csv`, False for table; any other format is a usage error."""
    if output.lower() not in ("table", "csv"):
        raise typer.BadParameter("table or csv", param_hint="--format")
    return output.lower() == "csv"


def _write_csv(rows: list[dict[str, Any]], *, columns: Sequence[str]) -> None:
    """Prints `rows` as CSV with a header of `columns` (other keys left out)."""
    writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)


def _get(url: str, api_key: str, params: dict[str, Any] | None = None) -> Any:
    """GETs JSON from a service, or exits with the problem it answered."""
    return _call("GET", url, api_key, params=params)


def _call(
    method: str,
    url: str,
    api_key: str,
    *,
    params: dict[str, Any] | None = None,
    body: Any = None,
) -> Any:
    """Calls a service; its JSON (None for a 204), or an exit with the problem it answered."""
    try:
        response = httpx.request(
            method,
            url,
            params=params,
            json=body,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=30,
        )
    except httpx.TransportError as exc:
        console.print(f"[red]cannot reach {url}: {exc}[/red]")
        raise typer.Exit(2) from exc
    if response.status_code >= 400:
        try:
            problem = response.json()
            detail = str(problem.get("detail") or response.text)
        except ValueError:
            problem, detail = None, response.text
        errors = problem.get("errors") if isinstance(problem, dict) else None
        for error in errors or []:
            detail += f"\n  {error.get('field')}: {error.get('message')}"
        console.print(f"[red]{response.status_code} from {url}: {detail}[/red]")
        raise typer.Exit(1)
    return None if response.status_code == 204 or not response.content else response.json()


# -- demo -------------------------------------------------------------------------------------

Year = Annotated[str, typer.Option(help="The UK financial year, April to March.")]
Scale = Annotated[
    float, typer.Option(help="1.0 is a district council; 10 to 100 a county; 0.02 for a test.")
]
Seed = Annotated[int, typer.Option(help="The same seed gives the same contacts.")]
Fraction = Annotated[
    float, typer.Option(help="The share of the year to generate, from 1 April (1.0 = all).")
]


@demo.command("show")
def demo_show(
    year: Year = "2025-26", scale: Scale = 1.0, seed: Seed = 7, fraction: Fraction = 1.0
) -> None:
    """Summarises the demo year without sending anything: volumes, months and outcomes."""
    demo_year = DemoYear(year, scale=scale, seed=seed, fraction=fraction)
    summary = summarise(demo_year)
    table = Table("what", "value", title=f"Demo year {year}, scale {scale}, seed {seed}")
    rows = [
        ("contacts", f"{summary.contacts:,}"),
        ("calls offered", f"{summary.calls:,}"),
        ("abandoned (short)", f"{summary.abandoned:,} ({summary.short_abandoned:,})"),
        ("mean wait of answered calls", f"{summary.mean_wait:.1f} s"),
        ("longest wait", f"{summary.wait_max:.0f} s ({summary.over_ten_minutes} over 10 min)"),
        ("visits", f"{summary.visits:,}"),
        ("standby calls", f"{summary.standby:,}"),
        ("enquiries", f"{sum(summary.enquiries.values()):,}"),
        *((f"  {channel}", f"{count:,}") for channel, count in sorted(summary.enquiries.items())),
        ("portal share (CX03)", f"{summary.portal_share:.1%}"),
        ("first point resolution (all)", f"{summary.first_point_rate:.1%}"),
        ("feedback", f"{summary.feedback:,}, mean {summary.feedback_mean:.2f}"),
        ("complaints (stage reached: count)", f"{summary.complaints:,} {summary.complaint_stages}"),
        *((f"  {month}", f"{count:,}") for month, count in sorted(summary.by_month.items())),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)


@demo.command("load")
def demo_load(
    year: Year = "2025-26",
    scale: Scale = 1.0,
    seed: Seed = 7,
    fraction: Fraction = 1.0,
    api_key: ApiKey = None,
    enquiry_url: Annotated[str, typer.Option(envvar="ENQUIRY_URL")] = "http://127.0.0.1:8001",
    complaints_url: Annotated[str, typer.Option(envvar="COMPLAINTS_URL")] = "http://127.0.0.1:8002",
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Requests in flight.")] = 16,
    call_batch: Annotated[int, typer.Option(min=1, max=1000, help="Calls per request.")] = 1000,
) -> None:
    """Generates the demo year and sends it through enquiry-api and complaints-api."""
    key = _api_key(api_key)
    try:
        financial_year(year)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--year") from exc
    demo_year = DemoYear(year, scale=scale, seed=seed, fraction=fraction)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(
            f"demo {year} x{scale}", total=demo_year.expected_contacts(), rate=""
        )
        started = datetime.now(UTC)

        def advance(count: int) -> None:
            done = progress.tasks[0].completed + count
            seconds = max((datetime.now(UTC) - started).total_seconds(), 1e-3)
            progress.update(task, advance=count, rate=f"{done / seconds:,.0f} contacts/s")

        try:
            report = asyncio.run(
                load(
                    demo_year,
                    enquiry_url=enquiry_url,
                    complaints_url=complaints_url,
                    api_key=key,
                    concurrency=concurrency,
                    call_batch=call_batch,
                    on_progress=advance,
                )
            )
        except LoadAborted as exc:
            _print_report(exc.report)
            console.print(f"[red]{exc}: more than 1% failed[/red]")
            raise typer.Exit(1) from exc
    _print_report(report)


def _print_report(report: LoadReport) -> None:
    table = Table("loaded", "count", title="Demo load")
    for name, value in (
        ("contacts", report.contacts),
        ("calls recorded", report.calls_created),
        ("visits recorded", report.visits_created),
        ("standby records", report.standby_created),
        ("enquiries opened", report.enquiries_created),
        ("lifecycle steps", report.steps_done),
        ("feedback", report.feedback_created),
        ("complaints", report.complaints_created),
        ("steps left for later (in the future)", report.skipped_in_future),
        ("requests", report.requests),
        ("retried", report.retries),
        ("failed", report.failures),
    ):
        table.add_row(name, f"{value:,}")
    table.add_row("time", f"{report.seconds:.1f} s")
    table.add_row(
        "throughput",
        f"{report.contacts_per_second:,.0f} contacts/s, "
        f"{report.requests_per_second:,.0f} requests/s",
    )
    console.print(table)
    for problem, count in report.problems.most_common(10):
        console.print(f"[red]{count} x {problem}[/red]")


# -- the commitments policy -------------------------------------------------------------------


def _policy_table(name: str, description: str, commitments: list[dict[str, Any]]) -> Table:
    table = Table(
        "id",
        "applies to",
        "starts",
        "stops",
        "target",
        "extension",
        title=f"{name}: {description}",
    )
    for c in commitments:
        applies = c.get("applies_to") or {}
        scope = [c["contact_type"]]
        if applies.get("channels"):
            scope.append(", ".join(applies["channels"]))
        if applies.get("stages"):
            scope.append(", ".join(applies["stages"]))
        if applies.get("office_hours_only"):
            scope.append("office hours")
        target = c["target"]
        amount = (
            f"{target['seconds']} s"
            if target.get("seconds")
            else f"{target['working_days']} working days"
        )
        if c.get("anchor") == "acknowledged":
            amount += " (from acknowledgement)"
        limit = c.get("max_extension_working_days")
        table.add_row(
            c["id"],
            "; ".join(scope),
            ", ".join(c["start_events"]),
            ", ".join(c["stop_events"]),
            amount,
            f"once, up to {limit} working days" if limit else "none",
        )
    return table


@policy.command("show")
def policy_show(
    name_or_file: Annotated[
        str | None,
        typer.Argument(
            help="A shipped policy (default, complaint-handling-code-2024) or a YAML file; "
            "default: POLICY, else default.",
            show_default=False,
        ),
    ] = None,
    running: Annotated[
        bool, typer.Option("--running", help="Show what the running sla-monitor enforces.")
    ] = False,
    sla_url: SlaUrl = "http://127.0.0.1:8003",
    api_key: ApiKey = None,
) -> None:
    """Shows a commitments policy: from its file, or (--running) from sla-monitor's API."""
    if running:
        answer = _get(f"{sla_url.rstrip('/')}/v1/commitments", _api_key(api_key))
        console.print(_policy_table(answer["policy"], answer["description"], answer["commitments"]))
        return
    loaded = _load_policy(name_or_file or os.environ.get("POLICY", "default"))
    commitments = [c.model_dump(mode="json") for c in loaded.commitments]
    console.print(_policy_table(loaded.name, loaded.description, commitments))


@policy.command("validate")
def policy_validate(
    file: Annotated[Path, typer.Argument(help="The policy YAML file to check.")],
) -> None:
    """Checks a policy file as every service will when it starts; names every bad entry."""
    loaded = _load_policy(str(file))
    console.print(
        f"[green]{file}: valid[/green], policy {loaded.name!r}, "
        f"{len(loaded.commitments)} commitments"
    )


def _load_policy(name_or_file: str) -> Policy:
    """The services' own loader, so the CLI judges a file exactly as they will."""
    try:
        return load_policy(name_or_file)
    except PolicyError as exc:
        console.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(1) from exc


# -- breaches ---------------------------------------------------------------------------------

BREACH_COLUMNS = (
    "commitment",
    "subject",
    "channel",
    "service_area",
    "stage",
    "started_at",
    "due_at",
    "stopped_at",
)
TABLE_COLUMNS = ("commitment", "subject", "service_area", "due_at", "stopped_at")


@breaches.command("list")
def breaches_list(
    open_only: Annotated[
        bool, typer.Option("--open", help="Only breaches still waiting for a stop.")
    ] = False,
    commitment: Annotated[str | None, typer.Option(help="e.g. email-respond.")] = None,
    service_area: Annotated[str | None, typer.Option(help="e.g. waste.")] = None,
    since: Annotated[
        datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], help="Breached on or after.")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="Breached on or before.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows.")] = 100,
    output: TableOrCsv = "table",
    sla_url: SlaUrl = "http://127.0.0.1:8003",
    api_key: ApiKey = None,
) -> None:
    """Lists breaches from sla-monitor, latest first, following its pages up to --limit."""
    as_csv = _as_csv(output)
    key = _api_key(api_key)
    params: dict[str, Any] = {"open": str(open_only).lower()}
    for name, value in (
        ("commitment", commitment),
        ("service_area", service_area),
        ("from", since.date().isoformat() if since else None),
        ("to", until.date().isoformat() if until else None),
    ):
        if value:
            params[name] = value
    items: list[dict[str, Any]] = []
    cursor = None
    while len(items) < limit:
        page_params = {**params, "limit": min(1000, limit - len(items))}
        if cursor:
            page_params["cursor"] = cursor
        page = _get(f"{sla_url.rstrip('/')}/v1/breaches", key, page_params)
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    if as_csv:
        _write_csv(items, columns=BREACH_COLUMNS)
        return
    title = f"{len(items)} breaches" + (" (open)" if open_only else "") + ", times UTC"
    table = Table(*(Column(c, overflow="fold") for c in TABLE_COLUMNS), title=title)
    for item in items:
        table.add_row(*(_cell(item.get(column)) for column in TABLE_COLUMNS))
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str) and len(value) > 19 and value[10] == "T":
        return value[:16].replace("T", " ")  # UTC, to the minute
    return str(value)


# -- webhooks ---------------------------------------------------------------------------------

EVENT_TYPES = ("sla.at_risk", "sla.breached", "sla.met", "sla.stopped", "sla.withdrawn")


def _webhooks_url(sla_url: str, *parts: str) -> str:
    return "/".join([f"{sla_url.rstrip('/')}/v1/webhooks", *parts])


@webhooks.command("add")
def webhooks_add(
    url: Annotated[str, typer.Argument(help="Where to POST, e.g. https://alerts.example.org/sla.")],
    event: Annotated[
        list[str] | None,
        typer.Option(help=f"Repeat for each event type: {', '.join(EVENT_TYPES)}."),
    ] = None,
    service_area: Annotated[
        list[str] | None, typer.Option(help="Repeat to take only these areas (default: all).")
    ] = None,
    description: Annotated[str | None, typer.Option(help="What it is for.")] = None,
    secret: Annotated[
        str | None,
        typer.Option(help="A whsec_ secret of your own; by default sla-monitor makes one."),
    ] = None,
    sla_url: SlaUrl = "http://127.0.0.1:8003",
    api_key: ApiKey = None,
) -> None:
    """Subscribes a URL to sla.* events (default sla.breached); prints the secret once."""
    body = {
        "url": url,
        "event_types": event or ["sla.breached"],
        "service_areas": service_area or [],
        "description": description,
    }
    if secret is not None:
        body["secret"] = secret
    made = _call("POST", _webhooks_url(sla_url), _api_key(api_key), body=body)
    console.print(f"subscription {made['id']} to {', '.join(made['event_types'])}")
    console.print("signing secret (shown this once, keep it safe):")
    console.print(made["secret"], soft_wrap=True)


AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON, for scripts.")]


@webhooks.command("list")
def webhooks_list(
    as_json: AsJson = False, sla_url: SlaUrl = "http://127.0.0.1:8003", api_key: ApiKey = None
) -> None:
    """Lists the subscriptions (never their secrets)."""
    found = _call("GET", _webhooks_url(sla_url), _api_key(api_key))
    if as_json:
        print(json.dumps(found, indent=2))
        return
    table = Table(
        Column("id", no_wrap=True),
        Column("url", overflow="fold"),
        "events",
        "service areas",
        "description",
        "created (UTC)",
        title=f"{len(found)} webhook subscriptions",
    )
    for item in found:
        table.add_row(
            item["id"],
            item["url"],
            " ".join(item["event_types"]),
            " ".join(item["service_areas"]) or "all",
            item["description"] or "",
            _cell(item["created_at"]),
        )
    console.print(table)


@webhooks.command("remove")
def webhooks_remove(
    subscription: Annotated[str, typer.Argument(help="The subscription's id.")],
    sla_url: SlaUrl = "http://127.0.0.1:8003",
    api_key: ApiKey = None,
) -> None:
    """Removes a subscription and its delivery log; pending deliveries are not sent."""
    _call("DELETE", _webhooks_url(sla_url, subscription), _api_key(api_key))
    console.print(f"removed {subscription}")


@webhooks.command("deliveries")
def webhooks_deliveries(
    subscription: Annotated[str, typer.Argument(help="The subscription's id.")],
    status: Annotated[
        str | None, typer.Option(help="Only pending, delivered or failed deliveries.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many.")] = 50,
    as_json: AsJson = False,
    sla_url: SlaUrl = "http://127.0.0.1:8003",
    api_key: ApiKey = None,
) -> None:
    """The delivery log: each delivery's status, attempts, last answer and next attempt."""
    params: dict[str, Any] = {"limit": limit}
    if status:
        params["status"] = status
    page = _call(
        "GET", _webhooks_url(sla_url, subscription, "deliveries"), _api_key(api_key), params=params
    )
    if as_json:
        print(json.dumps(page, indent=2))
        return
    table = Table(
        Column("webhook-id", no_wrap=True),
        "event",
        "status",
        "attempts",
        "last answer",
        "last attempt (UTC)",
        "next attempt (UTC)",
        title=f"{len(page['items'])} deliveries, latest first",
    )
    for item in page["items"]:
        last = item["attempt_log"][-1] if item["attempt_log"] else None
        answer = "" if last is None else str(last["status_code"] or last["outcome"])
        table.add_row(
            item["id"],
            item["event_type"],
            item["status"],
            str(item["attempts"]),
            answer,
            _cell(item["last_attempt_at"]),
            _cell(item["next_attempt_at"]),
        )
    console.print(table)


@webhooks.command("redeliver")
def webhooks_redeliver(
    subscription: Annotated[str, typer.Argument(help="The subscription's id.")],
    delivery: Annotated[str, typer.Argument(help="The delivery's id (its webhook-id).")],
    sla_url: SlaUrl = "http://127.0.0.1:8003",
    api_key: ApiKey = None,
) -> None:
    """Sends a delivery again now, with the same webhook-id."""
    path = _webhooks_url(sla_url, subscription, "deliveries", delivery, "redeliver")
    again = _call("POST", path, _api_key(api_key))
    console.print(
        f"delivery {again['id']} is {again['status']}, due {_cell(again['next_attempt_at'])}"
    )


# -- sla-monitor operations -------------------------------------------------------------------


@sla.command("replay", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sla_replay(ctx: typer.Context) -> None:
    """Runs `python -m sla_monitor replay` with the given arguments, its progress bar and all."""
    if importlib.util.find_spec("sla_monitor.__main__") is None:
        console.print("sla replay is not available: this sla-monitor has no `replay` command.")
        raise typer.Exit(2)
    completed = subprocess.run([sys.executable, "-m", "sla_monitor", "replay", *ctx.args])
    raise typer.Exit(completed.returncode)


# -- the staff directory ----------------------------------------------------------------------

STAFF_COLUMNS = ("staff_id", "name", "team", "team_email")


@staff.command("add")
def staff_add(
    staff_id: Annotated[str, typer.Argument(help="The staff id, as in enquiry.assigned.")],
    name: Annotated[str, typer.Option(help="The officer's name.")],
    team: Annotated[str, typer.Option(help="Their team, e.g. 'Waste services'.")],
    team_email: Annotated[str, typer.Option(help="The team's shared mailbox.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Change the details of someone already there.")
    ] = False,
    sla_url: SlaUrl = "http://127.0.0.1:8003",
    api_key: ApiKey = None,
) -> None:
    """Adds a member of staff to sla-monitor's directory (--replace changes one already there)."""
    key, base = _api_key(api_key), f"{sla_url.rstrip('/')}/v1/staff"
    details = {"name": name, "team": team, "team_email": team_email}
    if replace:
        member = _call("PUT", f"{base}/{staff_id}", key, body=details)
    else:
        member = _call("POST", base, key, body={"staff_id": staff_id, **details})
    console.print(
        f"{member['staff_id']}: {member['name']}, {member['team']} ({member['team_email']})"
    )


@staff.command("list")
def staff_list(
    output: TableOrCsv = "table",
    sla_url: SlaUrl = "http://127.0.0.1:8003",
    api_key: ApiKey = None,
) -> None:
    """Lists the staff directory, by staff id."""
    as_csv = _as_csv(output)
    members = _get(f"{sla_url.rstrip('/')}/v1/staff", _api_key(api_key))
    if as_csv:
        _write_csv(members, columns=STAFF_COLUMNS)
        return
    table = Table(*STAFF_COLUMNS, title=f"{len(members)} members of staff")
    for member in members:
        table.add_row(*(str(member[column]) for column in STAFF_COLUMNS))
    console.print(table)


@staff.command("remove")
def staff_remove(
    staff_id: Annotated[str, typer.Argument(help="The staff id to remove.")],
    sla_url: SlaUrl = "http://127.0.0.1:8003",
    api_key: ApiKey = None,
) -> None:
    """Removes a member of staff; their clocks then show the staff id with no name."""
    _call("DELETE", f"{sla_url.rstrip('/')}/v1/staff/{staff_id}", _api_key(api_key))
    console.print(f"removed {staff_id}")
