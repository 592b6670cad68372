"""With the broker stopped, enquiries are still accepted; their events arrive when it is back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from contact_common.bus.kafka import ensure_topics
from contact_devtools.broker import DevBroker
from contact_devtools.testing import EventTap, running_service
from enquiry_api.config import Settings
from enquiry_api.main import create_app


async def test_enquiries_are_accepted_while_the_broker_is_down(
    database_url: str,
    restartable_broker: DevBroker,
    api_keys_file: Path,
    issue_api_key: Callable[..., str],
    body_of: Callable[..., dict[str, Any]],
) -> None:
    bootstrap = restartable_broker.bootstrap_servers
    await ensure_topics(bootstrap)
    token = issue_api_key("enquiries:write", name="website")
    async with (
        running_service(
            create_app,
            Settings,
            service="enquiry-api",
            database_url=database_url,
            kafka_bootstrap=bootstrap,
            api_keys_file=api_keys_file,
        ) as server,
        httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client,
    ):
        before = await client.post("/v1/enquiries", json=body_of(channel="portal"))
        assert before.status_code == 201

        restartable_broker.stop()
        accepted = []
        for channel in ("email", "letter", "web_form", "voicemail", "chat"):
            response = await client.post("/v1/enquiries", json=body_of(channel=channel))
            assert response.status_code == 201, response.text
            accepted.append(response.json()["id"])
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["broker"] == "unreachable"

        restartable_broker.start()
        async with EventTap(bootstrap, "contact.events") as tap:
            # Opened after the restart: the relay may have drained already, so read the
            # outbox's events from the start of the topic rather than from the end.
            assert tap.consumer is not None
            await tap.consumer.seek_to_beginning()
            events = await tap.wait_for(
                lambda es: set(accepted) <= {e.subject for e in es if e.type == "enquiry.opened"},
                timeout=120,
            )
    opened = {e.subject: e for e in events if e.type == "enquiry.opened"}
    assert {opened[i].data.channel for i in accepted} == {  # type: ignore[attr-defined]
        "email",
        "letter",
        "web_form",
        "voicemail",
        "chat",
    }
