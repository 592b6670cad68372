"""Corrections and voids across the services: enquiry-api, sla-monitor and metrics-api on real
ports, the real broker and PostgreSQL. A contact corrected or voided through the API must move
or leave sla-monitor's clocks and metrics-api's figures, exactly.

The broker and its topics are shared with every other suite: this test's contacts are in a
service area of its own, in financial years 2011-12 and 2012-13, and only those figures are
asserted. Worked by hand (Europe/London):
  B: portal, received Friday 30 March 2012 10:00 BST (FY 2011-12); no commitment for portal.
     Corrected to email, received Monday 2 April 2012 10:00 BST (FY 2012-13): email-acknowledge
     due Tuesday 3 April 17:00, email-respond due Thursday 5 April 17:00; nothing answered it,
     so the timer breaches both at once (the deadlines are long past).
  C: email, received Friday 7 September 2012 10:00 BST, acknowledged Wednesday 12 September
     10:00: late (due Monday 10th 17:00), a breach; no response: due Wednesday 12th 17:00, the
     timer's breach. Corrected to received Tuesday 11 September 09:30: the acknowledgement was
     in time (due Wednesday 12th 17:00), the breach withdrawn and met; the response is due
     Friday 14th 17:00, still missed: withdrawn and breached again by the timer.
  A: email, received Tuesday 1 May 2012 10:00 BST: both email clocks breached by the timer;
     then voided as a duplicate of B: its clocks cancelled, its breaches withdrawn.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from contact_devtools.testing import running_service
from enquiry_api.config import Settings as EnquirySettings
from enquiry_api.main import create_app as enquiry_app
from metrics_api.config import Settings as MetricsSettings
from metrics_api.main import create_app as metrics_app
from sla_monitor.config import Settings as SlaSettings
from sla_monitor.main import create_app as sla_app

EMAIL_CLOCKS = {"email-acknowledge", "email-respond"}


async def eventually(
    probe: Callable[[], Awaitable[Any]], holds: Callable[[Any], bool], *, what: str
) -> Any:
    """Polls `probe` until `holds(answer)`; fails naming `what` and the last answer after 120 s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while True:
        answer = await probe()
        if holds(answer):
            return answer
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}; last answer: {answer}")
        await asyncio.sleep(0.3)


@pytest.fixture
async def stack(
    database_url: str,
    kafka_bootstrap: str,
    api_keys_file: Path,
    issue_api_key: Callable[..., str],
) -> AsyncIterator[dict[str, Any]]:
    """The three services on this test's database, each consumer in a group of its own."""
    area = f"t{uuid.uuid4().hex[:12]}"
    token = issue_api_key("admin", name="contact-centre")
    headers = {"Authorization": f"Bearer {token}"}
    common = {
        "database_url": database_url,
        "kafka_bootstrap": kafka_bootstrap,
        "api_keys_file": api_keys_file,
    }
    suffix = uuid.uuid4().hex[:10]
    async with contextlib.AsyncExitStack() as stack:
        enquiries = await stack.enter_async_context(
            running_service(
                enquiry_app,
                EnquirySettings,
                service="enquiry-api",
                service_areas=["waste", area],
                **common,
            )
        )
        sla = await stack.enter_async_context(
            running_service(
                sla_app,
                SlaSettings,
                service="sla-monitor",
                consumer_group=f"sla-corrections-{suffix}",
                **common,
            )
        )
        metrics = await stack.enter_async_context(
            running_service(
                metrics_app,
                MetricsSettings,
                service="metrics-api",
                consumer_group=f"metrics-corrections-{suffix}",
                **common,
            )
        )
        clients = {}
        for name, server in (("enquiry", enquiries), ("sla", sla), ("metrics", metrics)):
            clients[name] = await stack.enter_async_context(
                httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30)
            )
        yield {"area": area, **clients}


async def test_a_correction_and_a_void_move_clocks_and_figures_exactly(
    stack: dict[str, Any],
) -> None:
    area, enquiries, sla, metrics = stack["area"], stack["enquiry"], stack["sla"], stack["metrics"]

    async def create(channel: str, received_at: str) -> str:
        body = {
            "channel": channel,
            "service_area": area,
            "received_at": received_at,
            "description": "Corrections test",
        }
        response = await enquiries.post("/v1/enquiries", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def clocks(subject: str) -> dict[str, str]:
        response = await sla.get("/v1/clocks", params={"subject": subject})
        assert response.status_code == 200, response.text
        return {c["commitment"]: c["status"] for c in response.json()}

    async def figures() -> dict[str, Any]:
        cards = {}
        for year in ("2011-12", "2012-13"):
            card = await metrics.get("/v1/scorecard", params={"period": year, "service_area": area})
            assert card.status_code == 200, card.text
            cx03 = next(r for r in card.json()["rows"] if r["kpi"] == "CX03")
            cards[year] = (cx03["numerator"], cx03["denominator"])
        compliance = await metrics.get(
            "/v1/sla/compliance", params={"period": "2012-13", "service_area": area}
        )
        assert compliance.status_code == 200, compliance.text
        breaches = await metrics.get("/v1/breaches", params={"service_area": area})
        assert breaches.status_code == 200, breaches.text
        return {
            "cx03": cards,
            "sla": {
                r["commitment"]: (r["met"], r["breached"])
                for r in compliance.json()["rows"]
                if r["commitment"] in EMAIL_CLOCKS
            },
            "open": sorted((r["contact_id"], r["commitment"]) for r in breaches.json()["rows"]),
        }

    b = await create("portal", "2012-03-30T10:00:00+01:00")
    a = await create("email", "2012-05-01T10:00:00+01:00")
    c = await create("email", "2012-09-07T10:00:00+01:00")
    acknowledged = await enquiries.post(
        f"/v1/enquiries/{c}/acknowledge", json={"at": "2012-09-12T10:00:00+01:00"}
    )
    assert acknowledged.status_code == 200, acknowledged.text
    breached = {"email-acknowledge": "breached", "email-respond": "breached"}
    await eventually(lambda: clocks(a), lambda found: found == breached, what="A's breaches")
    await eventually(lambda: clocks(c), lambda found: found == breached, what="C's breaches")
    before = await eventually(
        figures,
        lambda f: len(f["open"]) == 3 and f["cx03"]["2012-13"][1] == 2,
        what="A's and C's figures",
    )
    assert before["cx03"] == {"2011-12": (1, 1), "2012-13": (0, 2)}
    assert before["sla"] == {"email-acknowledge": (0, 2), "email-respond": (0, 2)}
    assert await clocks(b) == {}  # a portal enquiry has no commitment

    # C was received on Tuesday 11 September: acknowledged in time after all.
    corrected = await enquiries.patch(
        f"/v1/enquiries/{c}",
        json={"received_at": "2012-09-11T09:30:00+01:00", "reason": "date stamp misread"},
    )
    assert corrected.status_code == 200, corrected.text
    met_then_breached = {"email-acknowledge": "met", "email-respond": "breached"}
    await eventually(lambda: clocks(c), lambda found: found == met_then_breached, what="C met")
    after_c = await eventually(
        figures,
        lambda f: f["sla"].get("email-acknowledge") == (1, 1) and len(f["open"]) == 3,
        what="C's breach withdrawn",
    )
    assert after_c["sla"] == {"email-acknowledge": (1, 1), "email-respond": (0, 2)}
    c_respond = next(
        clock
        for clock in (await sla.get("/v1/clocks", params={"subject": c})).json()
        if clock["commitment"] == "email-respond"
    )
    assert c_respond["due_at"] == "2012-09-14T16:00:00Z"  # Friday 17:00 BST

    # B was an email received on Monday 2 April: it moves to 2012-13, and its email clocks
    # start from then (both long overdue: breached by the timer).
    corrected = await enquiries.patch(
        f"/v1/enquiries/{b}",
        json={
            "received_at": "2012-04-02T10:00:00+01:00",
            "channel": "email",
            "reason": "scanned from an email, keyed as portal",
        },
    )
    assert corrected.status_code == 200, corrected.text
    await eventually(lambda: clocks(b), lambda found: found == breached, what="B's new clocks")
    after_correction = await eventually(
        figures, lambda f: len(f["open"]) == 5, what="B's breaches counted"
    )
    assert after_correction["cx03"] == {"2011-12": (0, 0), "2012-13": (0, 3)}
    assert after_correction["sla"] == {"email-acknowledge": (1, 2), "email-respond": (0, 3)}
    b_clocks = (await sla.get("/v1/clocks", params={"subject": b})).json()
    assert {c["started_at"] for c in b_clocks} == {"2012-04-02T09:00:00Z"}

    # A duplicated B: voided, its clocks cancelled, its breaches withdrawn, counted nowhere.
    voided = await enquiries.post(
        f"/v1/enquiries/{a}/void",
        json={"reason_code": "duplicate", "reason": "the same email twice", "duplicate_of": b},
    )
    assert voided.status_code == 200, voided.text
    cancelled = {"email-acknowledge": "cancelled", "email-respond": "cancelled"}
    await eventually(lambda: clocks(a), lambda found: found == cancelled, what="A cancelled")
    after_void = await eventually(
        figures, lambda f: len(f["open"]) == 3, what="A's breaches withdrawn"
    )
    expected_open = [*((b, name) for name in EMAIL_CLOCKS), (c, "email-respond")]
    assert after_void["open"] == sorted(expected_open)
    assert after_void["cx03"] == {"2011-12": (0, 0), "2012-13": (0, 2)}
    assert after_void["sla"] == {"email-acknowledge": (1, 1), "email-respond": (0, 2)}
    sla_breaches = await sla.get("/v1/breaches", params={"service_area": area})
    open_in_sla = {(i["subject"], i["commitment"]) for i in sla_breaches.json()["items"]}
    # sla-monitor lists breached clocks: C's acknowledgement is met now, A's are cancelled.
    assert open_in_sla == set(expected_open)
