"""Webhooks end to end: a real HTTP receiver that fails, stalls and recovers; signatures verified
with the standardwebhooks library; each webhook-id processed once, across a worker restart."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, Request, Response
from standardwebhooks import Webhook, WebhookVerificationError

from contact_devtools.testing import LiveServer
from sla_monitor.clocks.domain import clock_id
from sla_monitor.timekeeping import FakeClock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from upstream_events import Call, Enquiry, london, publish, wait_until  # noqa: E402

T0 = london(date(2026, 6, 3), time(10))
# Short enough that a test sees several attempts in seconds; the rules are the production ones.
FAST_RETRIES = {
    "webhook_allow_private_addresses": True,
    "webhook_timeout_seconds": 1.0,
    "webhook_backoff_base_seconds": 0.2,
    "webhook_backoff_cap_seconds": 0.5,
    "webhook_poll_seconds": 0.1,
}


@dataclass
class Receiver:
    """A webhook receiver as a council's alerting system would write one: it verifies the
    signature, processes each webhook-id once and answers 2xx to a repeat without redoing it."""

    url: str = ""
    secret: str | None = None
    # What the next requests get: "fail" (500) or "stall" (an answer after the sender gave up);
    # once these are used up, 204.
    plan: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    processed: list[str] = field(default_factory=list)
    repeats: list[str] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        self.requests.append({"headers": headers, "body": body})
        step = self.plan.pop(0) if self.plan else "ok"
        if step == "fail":
            return Response(status_code=500)
        if step == "stall":
            await asyncio.sleep(2.5)  # past SLA_WEBHOOK_TIMEOUT_SECONDS (1 s): an attempt lost
            return Response(status_code=204)
        assert self.secret is not None
        try:
            Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            return Response(status_code=401)
        webhook_id = headers["webhook-id"]
        (self.repeats if webhook_id in self.processed else self.processed).append(webhook_id)
        return Response(status_code=204)

    def seen(self, webhook_id: str) -> int:
        """How many requests carried this webhook-id, whatever they were answered."""
        return sum(1 for r in self.requests if r["headers"]["webhook-id"] == webhook_id)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """The receiver on a random port of this machine, stopped after the test."""
    hooks = Receiver()
    app = FastAPI()
    app.add_api_route("/hooks/sla", hooks.handle, methods=["POST"])
    async with LiveServer(app) as server:
        hooks.url = f"{server.url}/hooks/sla"
        yield hooks


@pytest.fixture
def admin(issue_api_key) -> dict[str, str]:
    """The headers of an admin key: webhooks are the admin's."""
    return {"Authorization": f"Bearer {issue_api_key('admin')}"}


async def _subscribe(client: httpx.AsyncClient, admin: dict[str, str], **body: Any) -> dict:
    response = await client.post("/v1/webhooks", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


async def _deliveries(
    client: httpx.AsyncClient, admin: dict[str, str], subscription: str
) -> list[dict]:
    response = await client.get(f"/v1/webhooks/{subscription}/deliveries", headers=admin)
    assert response.status_code == 200, response.text
    return response.json()["items"]


class AreaCall(Call):
    """A call in a service area of the test's own: the broker's topic holds other tests' calls,
    which a subscription filtered on this area leaves out."""

    def __init__(self, area: str) -> None:
        super().__init__(T0)
        self.area = area

    def _common(self) -> dict[str, object]:
        return {**super()._common(), "service_area": self.area}


def _area() -> str:
    return f"test_{uuid.uuid4().hex[:12]}"


async def _late_answer(producer: AIOKafkaProducer, area: str) -> Call:
    """A call answered after 40 s: phone-answer (15 s) breached, phone-wait-max (10 min) met."""
    call = AreaCall(area)
    await publish(producer, [call.offered(), call.answered(timedelta(seconds=40))])
    return call


async def test_a_breach_arrives_signed_after_a_failure_and_a_stall(
    sla_monitor, producer: AIOKafkaProducer, receiver: Receiver, admin: dict[str, str]
) -> None:
    receiver.plan = ["fail", "stall"]
    async with sla_monitor(FakeClock(T0 + timedelta(hours=1)), **FAST_RETRIES) as (_, client):
        area = _area()
        breaches = await _subscribe(
            client,
            admin,
            url=receiver.url,
            event_types=["sla.breached"],
            service_areas=[area],
            description="alerts",
        )
        receiver.secret = breaches["secret"]
        assert breaches["secret"].startswith("whsec_")
        elsewhere = await _subscribe(
            client, admin, url=receiver.url, event_types=["sla.breached"], service_areas=[_area()]
        )
        call = await _late_answer(producer, area)

        async def delivered() -> bool:
            items = await _deliveries(client, admin, breaches["id"])
            return bool(items) and items[0]["status"] == "delivered"

        await wait_until(delivered, timeout=60, what="the breach to be delivered")
        [delivery] = await _deliveries(client, admin, breaches["id"])
        assert [a["outcome"] for a in delivery["attempt_log"]] == ["failed", "timeout", "delivered"]
        assert [a["status_code"] for a in delivery["attempt_log"]] == [500, None, 204]
        assert delivery["attempts"] == 3 and delivery["next_attempt_at"] is None
        assert delivery["attempt_log"][1]["duration_ms"] >= 900
        # Three requests, one id: the receiver processed it once.
        assert receiver.seen(delivery["id"]) == 3
        assert receiver.processed == [delivery["id"]] and receiver.repeats == []
        body = orjson.loads(receiver.requests[-1]["body"])
        assert body["type"] == "sla.breached" and body["data"]["event_id"] == delivery["event_id"]
        assert body["data"]["clock_id"] == str(clock_id("phone-answer", call.id, 0))
        assert body["data"]["contact_id"] == str(call.id)
        assert body["data"]["reference"] is None  # a call has no reference
        assert body["data"]["due_at"] == "2026-06-03T09:00:15Z"
        assert body["data"]["service_area"] == area
        assert not {"name", "email", "phone", "address", "customer"} & set(body["data"])
        signature = receiver.requests[-1]["headers"]["webhook-signature"]
        assert signature.startswith("v1,")
        # A signature under another secret is refused: the check above is a real one.
        with pytest.raises(WebhookVerificationError):
            Webhook(_other_secret()).verify(
                receiver.requests[-1]["body"], receiver.requests[-1]["headers"]
            )
        # A subscription to another service area filters the call out.
        assert await _deliveries(client, admin, elsewhere["id"]) == []

        redelivered = await client.post(
            f"/v1/webhooks/{breaches['id']}/deliveries/{delivery['id']}/redeliver", headers=admin
        )
        assert redelivered.status_code == 202, redelivered.text
        assert redelivered.json()["status"] == "pending"

        async def sent_again() -> bool:
            return receiver.seen(delivery["id"]) == 4

        await wait_until(sent_again, timeout=30, what="the redelivery")
        assert receiver.processed == [delivery["id"]] and receiver.repeats == [delivery["id"]]
        metrics = (await client.get("/metrics")).text
        assert 'sla_webhook_attempts_total{outcome="timeout"}' in metrics
        assert 'sla_webhook_deliveries_total{outcome="delivered"}' in metrics


async def test_a_payload_names_the_contacts_reference(
    sla_monitor, producer: AIOKafkaProducer, receiver: Receiver, admin: dict[str, str]
) -> None:
    clock = FakeClock(T0 - timedelta(hours=1))
    async with sla_monitor(clock, **FAST_RETRIES) as (_, client):
        area = _area()
        breaches = await _subscribe(
            client, admin, url=receiver.url, event_types=["sla.breached"], service_areas=[area]
        )
        receiver.secret = breaches["secret"]
        reference = f"ENQ-W-{uuid.uuid4().hex[:8].upper()}"
        enquiry = Enquiry(T0, area=area, reference=reference)
        await publish(producer, [enquiry.opened()])

        async def listed() -> bool:
            response = await client.get("/v1/worklist", params={"service_area": area})
            return bool(response.json()["total"])

        await wait_until(listed, timeout=60, what="the enquiry's clocks to start")
        # Friday: the acknowledgement (due Thursday 17:00) has breached.
        await clock.set(T0 + timedelta(days=2))

        async def delivered() -> bool:
            items = await _deliveries(client, admin, breaches["id"])
            return bool(items) and all(i["status"] == "delivered" for i in items)

        await wait_until(delivered, timeout=60, what="the breach to be delivered")
    [body] = [orjson.loads(r["body"]) for r in receiver.requests]
    assert body["type"] == "sla.breached" and body["data"]["commitment"] == "email-acknowledge"
    assert body["data"]["reference"] == reference
    assert body["data"]["contact_id"] == str(enquiry.id)


def _other_secret() -> str:
    from sla_monitor.webhooks.domain import new_secret

    return new_secret()


async def test_a_restarted_worker_delivers_each_id_once(
    sla_monitor, producer: AIOKafkaProducer, receiver: Receiver, admin: dict[str, str]
) -> None:
    receiver.plan = ["fail", "stall", "fail"]
    group = f"sla-test-{uuid.uuid4().hex[:12]}"
    clock = FakeClock(T0 + timedelta(hours=1))
    async with sla_monitor(clock, consumer_group=group, **FAST_RETRIES) as (_, client):
        area = _area()
        subscription = await _subscribe(
            client,
            admin,
            url=receiver.url,
            event_types=["sla.breached", "sla.met"],
            service_areas=[area],
        )
        receiver.secret = subscription["secret"]
        calls = [await _late_answer(producer, area) for _ in range(2)]

        async def stalled() -> bool:
            return len(receiver.requests) >= 2  # the stall is in flight

        await wait_until(stalled, timeout=60, what="the receiver to stall")
    # Stopped mid-delivery: the stalled attempt was timed out and recorded on the way out.
    async with sla_monitor(clock, consumer_group=group, **FAST_RETRIES) as (_, client):

        async def all_delivered() -> bool:
            items = await _deliveries(client, admin, subscription["id"])
            return len(items) == 4 and all(i["status"] == "delivered" for i in items)

        await wait_until(all_delivered, timeout=60, what="every delivery after the restart")
        items = await _deliveries(client, admin, subscription["id"])
    # Two calls, each one breach (phone-answer) and one met (phone-wait-max): four ids.
    assert Counter(i["event_type"] for i in items) == {"sla.breached": 2, "sla.met": 2}
    ids = {i["id"] for i in items}
    assert sorted(receiver.processed) == sorted(ids) and receiver.repeats == []
    outcomes = Counter(a["outcome"] for i in items for a in i["attempt_log"])
    assert outcomes == {"delivered": 4, "failed": 2, "timeout": 1}
    subjects = {orjson.loads(r["body"])["data"]["contact_id"] for r in receiver.requests}
    assert subjects == {str(c.id) for c in calls}


async def test_the_admin_api(sla_monitor, admin: dict[str, str], issue_api_key) -> None:
    async with sla_monitor(FakeClock(T0)) as (server, client):
        given = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
        made = await _subscribe(
            client,
            admin,
            url="https://alerts.example.org/hooks",
            event_types=["sla.at_risk", "sla.breached", "sla.breached"],
            service_areas=["waste", "housing"],
            secret=given,
        )
        assert made["secret"] == given
        assert made["event_types"] == ["sla.at_risk", "sla.breached"]
        listed = (await client.get("/v1/webhooks", headers=admin)).json()
        assert [s["id"] for s in listed] == [made["id"]]
        assert "secret" not in listed[0]
        one = await client.get(f"/v1/webhooks/{made['id']}", headers=admin)
        assert one.status_code == 200 and "secret" not in one.json()

        bad = {
            "http://127.0.0.1:9/hook": "body.url",
            "http://169.254.169.254/latest": "body.url",
            "ftp://example.org/x": "body.url",
        }
        for url, where in bad.items():
            refused = await client.post(
                "/v1/webhooks", json={"url": url, "event_types": ["sla.met"]}, headers=admin
            )
            assert refused.status_code == 422, url
            assert refused.headers["content-type"] == "application/problem+json"
            assert where in refused.text
        for body, where in [
            ({"url": "https://example.org", "event_types": ["sla.nope"]}, "body.event_types"),
            ({"url": "https://example.org", "event_types": []}, "body.event_types"),
            ({"url": "https://example.org", "event_types": ["sla.met"], "secret": "x"}, "secret"),
            ({"event_types": ["sla.met"]}, "body.url"),
        ]:
            refused = await client.post("/v1/webhooks", json=body, headers=admin)
            assert refused.status_code == 422 and where in refused.text, refused.text

        missing = uuid.uuid4()
        for method, path in [
            ("GET", f"/v1/webhooks/{missing}"),
            ("DELETE", f"/v1/webhooks/{missing}"),
            ("GET", f"/v1/webhooks/{missing}/deliveries"),
            ("POST", f"/v1/webhooks/{made['id']}/deliveries/{missing}/redeliver"),
        ]:
            answer = await client.request(method, path, headers=admin)
            assert answer.status_code == 404, (method, path)
            assert answer.headers["content-type"] == "application/problem+json"
        assert (await client.get("/v1/webhooks/not-a-uuid", headers=admin)).status_code == 422

        # The fixture's client holds sla:read only: not enough.
        assert (await client.get("/v1/webhooks")).status_code == 403
        async with httpx.AsyncClient(base_url=server.url) as anonymous:
            assert (await anonymous.get("/v1/webhooks")).status_code == 401

        removed = await client.delete(f"/v1/webhooks/{made['id']}", headers=admin)
        assert removed.status_code == 204
        assert (await client.get("/v1/webhooks", headers=admin)).json() == []
        openapi = (await client.get("/openapi.json")).json()
        for path, method in [("/v1/webhooks", "post"), ("/v1/webhooks/{subscription_id}", "get")]:
            operation = openapi["paths"][path][method]
            assert operation["summary"] and operation["description"]
            assert {"401", "403", "422"} <= set(operation["responses"])
