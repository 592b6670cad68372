"""contactctl: issue, list and revoke API keys; apply migrations."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from contact_common.auth import SCOPES, issue_key, key_file_summary, revoke_key
from contact_common.migrations import upgrade

app = typer.Typer(help="Operate the council contact platform.", no_args_is_help=True)
keys = typer.Typer(help="API keys with scopes.", no_args_is_help=True)
app.add_typer(keys, name="keys")
console = Console()

KeysFile = Annotated[
    Path, typer.Option(envvar="API_KEYS_FILE", help="The key file the services read.")
]


@keys.command("issue")
def keys_issue(
    name: Annotated[str, typer.Option(help="Who the key is for, e.g. 'standby-contractor'.")],
    scope: Annotated[list[str], typer.Option(help=f"Repeat for each scope: {', '.join(SCOPES)}.")],
    keys_file: KeysFile = Path("var/api-keys.json"),
) -> None:
    """Issues a key and prints it once: it is stored only as a hash."""
    try:
        token = issue_key(keys_file, name=name, scopes=scope)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    console.print(token)


@keys.command("list")
def keys_list(keys_file: KeysFile = Path("var/api-keys.json")) -> None:
    """Lists the keys: ids, names, scopes and dates, never secrets."""
    table = Table("key id", "name", "scopes", "created", "revoked")
    for key in key_file_summary(keys_file):
        table.add_row(
            key["key_id"],
            key["name"],
            " ".join(key["scopes"]),
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
