"""`python -m sla_monitor replay`: rebuild the clocks from contact.events."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from sla_monitor.config import get_settings
from sla_monitor.replay import replay
from sla_monitor.timekeeping import SystemClock

cli = typer.Typer(help="sla-monitor's operator commands.", no_args_is_help=True)


@cli.callback()
def main() -> None:
    """sla-monitor: keeps every published commitment."""


@cli.command("replay")
def replay_command(
    yes: bool = typer.Option(False, "--yes", help="Do not ask before emptying the clocks."),
) -> None:
    """Empty the clocks and rebuild them from contact.events (stop the service first)."""
    settings = get_settings()
    console = Console(stderr=True)
    if not yes:
        typer.confirm(
            "This empties sla-monitor's clocks and rebuilds them from contact.events. "
            "Is the service stopped?",
            abort=True,
        )
    columns = (
        TextColumn("[bold]Replaying contact.events"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("replay", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        summary = asyncio.run(
            replay(
                settings,
                clock=SystemClock(timedelta(seconds=settings.clock_offset_seconds)),
                progress=advance,
            )
        )
    console.print(
        f"Replayed {summary.events} events from {summary.partitions} partitions "
        f"({summary.undecodable} undecodable): "
        f"{summary.clocks} clocks, {summary.overdue_flagged} overdue flagged breached."
    )


if __name__ == "__main__":
    cli()
