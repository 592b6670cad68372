"""`contactctl webhooks` against a real sla-monitor (real PostgreSQL and broker)."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from contact_devtools.processes import minimal_env
from contact_devtools.testing import running_service
from sla_monitor.config import Settings
from sla_monitor.main import create_app

SECRET = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
URL = f"https://alerts.example.org/sla/{uuid.uuid4().hex}"


@dataclass
class Ran:
    """What a contactctl process printed and how it ended."""

    exit_code: int
    output: str


async def test_webhooks_add_list_deliveries_redeliver_remove(
    database_url: str,
    kafka_bootstrap: str,
    api_keys_file: Path,
    issue_api_key: Callable[..., str],
) -> None:
    admin = issue_api_key("admin")
    reader = issue_api_key("sla:read")
    async with running_service(
        create_app,
        Settings,
        service="sla-monitor",
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        api_keys_file=api_keys_file,
        consumer_group="contactctl-webhooks-test",
    ) as server:

        async def contactctl(*args: str, key: str = admin) -> Ran:
            # A process of its own: the service in this process logs to the same stdout.
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                "from contactctl.main import app; app()",
                "webhooks",
                *args,
                "--sla-url",
                server.url,
                "--api-key",
                key,
                env=minimal_env(COLUMNS="200"),
                cwd=api_keys_file.parent,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
            assert process.returncode is not None
            return Ran(process.returncode, output.decode())

        added = await contactctl(
            "add",
            URL,
            "--event",
            "sla.breached",
            "--event",
            "sla.at_risk",
            "--service-area",
            "waste",
            "--description",
            "duty manager",
            "--secret",
            SECRET,
        )
        assert added.exit_code == 0, added.output
        assert SECRET in added.output and "shown this once" in added.output

        listed = await contactctl("list", "--json")
        assert listed.exit_code == 0, listed.output
        # Other tests of the session may have subscriptions in the same database: find ours.
        [subscription] = [s for s in json.loads(listed.output) if s["url"] == URL]
        assert subscription["event_types"] == ["sla.at_risk", "sla.breached"]
        assert subscription["service_areas"] == ["waste"]
        assert "secret" not in subscription
        table = await contactctl("list")
        assert "duty manager" in table.output and SECRET not in table.output

        # Other tests' breaches in the area may reach the subscription meanwhile (the broker is
        # the session's): deliveries only grow, and the table counts at least what the JSON held.
        log = await contactctl("deliveries", subscription["id"], "--json")
        assert log.exit_code == 0, log.output
        items = json.loads(log.output)["items"]
        assert all(d["event_type"] in ("sla.at_risk", "sla.breached") for d in items)
        table = await contactctl("deliveries", subscription["id"])
        counted = re.search(r"(\d+) deliveries", table.output)
        assert counted is not None, table.output
        assert int(counted.group(1)) >= len(items)

        missing = "00000000-0000-0000-0000-000000000000"
        again = await contactctl("redeliver", subscription["id"], missing)
        assert again.exit_code == 1 and "404" in again.output

        refused = await contactctl("add", "ftp://example.org/x")
        assert refused.exit_code == 1 and "422" in refused.output and "body.url" in refused.output
        private = await contactctl("add", "http://10.0.0.8/hook")
        assert private.exit_code == 1 and "not a public address" in private.output
        forbidden = await contactctl("list", key=reader)
        assert forbidden.exit_code == 1 and "403" in forbidden.output

        removed = await contactctl("remove", subscription["id"])
        assert removed.exit_code == 0, removed.output
        left = json.loads((await contactctl("list", "--json")).output)
        assert subscription["id"] not in {s["id"] for s in left}
        gone = await contactctl("remove", subscription["id"])
        assert gone.exit_code == 1 and "404" in gone.output
