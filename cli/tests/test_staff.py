"""contactctl staff add|list|remove against a running sla-monitor (real PostgreSQL and broker)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from contact_devtools.testing import running_service
from contactctl.main import app
from sla_monitor.config import Settings
from sla_monitor.main import create_app

runner = CliRunner()


async def test_staff_add_list_and_remove(
    database_url: str, kafka_bootstrap: str, api_keys_file: Path, issue_api_key: Callable[..., str]
) -> None:
    admin = issue_api_key("admin")
    async with running_service(
        create_app,
        Settings,
        service="sla-monitor",
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        api_keys_file=api_keys_file,
        consumer_group="contactctl-staff-test",
    ) as server:

        async def contactctl(*args: str):  # the commands block: off the server's event loop
            return await asyncio.to_thread(
                runner.invoke, app, [*args, "--sla-url", server.url, "--api-key", admin]
            )

        added = await contactctl(
            "staff", "add", "jsmith", "--name", "Jo Smith", "--team", "Waste",
            "--team-email", "waste@council.gov.uk",
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        assert "jsmith: Jo Smith, Waste" in added.output
        again = await contactctl(
            "staff", "add", "jsmith", "--name", "J", "--team", "W", "--team-email", "w@c.gov.uk"
        )
        assert again.exit_code == 1 and "409" in again.output
        replaced = await contactctl(
            "staff", "add", "jsmith", "--name", "Jo Smith-Jones", "--team", "Waste",
            "--team-email", "waste@council.gov.uk", "--replace",
        )  # fmt: skip
        assert replaced.exit_code == 0, replaced.output
        bad = await contactctl(
            "staff", "add", "x1", "--name", "X", "--team", "T", "--team-email", "nope"
        )
        assert bad.exit_code == 1 and "team_email" in bad.output

        listed = await contactctl("staff", "list", "--format", "csv")
        assert listed.exit_code == 0, listed.output
        rows = list(csv.DictReader(io.StringIO(listed.stdout)))
        assert rows == [
            {
                "staff_id": "jsmith",
                "name": "Jo Smith-Jones",
                "team": "Waste",
                "team_email": "waste@council.gov.uk",
            }
        ]
        table = await contactctl("staff", "list")
        assert table.exit_code == 0 and "1 members of staff" in table.output

        removed = await contactctl("staff", "remove", "jsmith")
        assert removed.exit_code == 0 and "removed jsmith" in removed.output
        gone = await contactctl("staff", "remove", "jsmith")
        assert gone.exit_code == 1 and "404" in gone.output
        assert "0 members" in (await contactctl("staff", "list")).output
