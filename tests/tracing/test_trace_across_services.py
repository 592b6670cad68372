"""One trace from a POST to enquiry-api or complaints-api through sla-monitor's and metrics-api's
consumer spans: the four services on real ports in this test's event loop, on PostgreSQL and a
broker of this test's own, tracing on with each service's spans kept in memory.

The test is the caller: it sends a `traceparent` of its own with each POST and follows that
trace id through the request's span, the outbox row, each consumer's span of the event, and
(for an acknowledgement, which stops a clock) sla-monitor's sla.met, whose span in metrics-api
is a child of sla-monitor's consumer span.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import text

from complaints_api.config import Settings as ComplaintsSettings
from complaints_api.main import create_app as complaints_app
from contact_common.bus.kafka import ensure_topics
from contact_common.bus.topics import CONTACT_EVENTS, SLA_EVENTS
from contact_common.db import create_engine
from contact_devtools.broker import DevBroker
from contact_devtools.testing import LiveServer, running_service
from enquiry_api.config import Settings as EnquirySettings
from enquiry_api.main import create_app as enquiry_app
from metrics_api.config import Settings as MetricsSettings
from metrics_api.main import create_app as metrics_app
from sla_monitor.config import Settings as SlaSettings
from sla_monitor.main import create_app as sla_app

pytestmark = pytest.mark.e2e

SERVICES = (
    ("enquiry-api", enquiry_app, EnquirySettings, {}),
    ("complaints-api", complaints_app, ComplaintsSettings, {}),
    ("sla-monitor", sla_app, SlaSettings, {"consumer_group": "tracing-sla"}),
    ("metrics-api", metrics_app, MetricsSettings, {"consumer_group": "tracing-metrics"}),
)


@dataclass
class Caller:
    """The trace the test starts: its id and the span id it sends as the parent."""

    trace_id: str = field(default_factory=lambda: secrets.token_hex(16))
    span_id: str = field(default_factory=lambda: secrets.token_hex(8))

    @property
    def headers(self) -> dict[str, str]:
        return {"traceparent": f"00-{self.trace_id}-{self.span_id}-01"}


@dataclass
class System:
    database_url: str
    token: str
    servers: dict[str, LiveServer] = field(default_factory=dict)
    spans: dict[str, InMemorySpanExporter] = field(default_factory=dict)

    def client(self, name: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.servers[name].url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )

    def in_trace(self, service: str, caller: Caller) -> list[ReadableSpan]:
        return [
            span
            for span in self.spans[service].get_finished_spans()
            if f"{span.context.trace_id:032x}" == caller.trace_id
        ]

    async def consumer_span(
        self, service: str, caller: Caller, *, event_type: str, subject: str, timeout: float = 60
    ) -> ReadableSpan:
        """The span in which `service` consumed the event, in the caller's trace (waits)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            for span in self.in_trace(service, caller):
                attributes = span.attributes or {}
                if (
                    span.kind is SpanKind.CONSUMER
                    and attributes.get("cloudevents.event_type") == event_type
                    and attributes.get("cloudevents.event_subject") == subject
                ):
                    return span
            await asyncio.sleep(0.1)
        seen = [
            (s.name, dict(s.attributes or {})) for s in self.spans[service].get_finished_spans()
        ]
        raise AssertionError(f"{service} never consumed {event_type} in the trace: {seen}")

    async def outbox_traceparent(self, schema: str, *, event_type: str, subject: str) -> str:
        engine = create_engine(self.database_url, schema=schema)
        try:
            async with engine.connect() as connection:
                value = await connection.scalar(
                    text(
                        f'SELECT traceparent FROM "{schema}".outbox_message '
                        "WHERE event_type = :type AND key = :key"
                    ),
                    {"type": event_type, "key": subject},
                )
        finally:
            await engine.dispose()
        assert isinstance(value, str), f"no traced {event_type} row in {schema}'s outbox"
        return value


@pytest.fixture
async def private_broker(tmp_path: Path) -> AsyncIterator[str]:
    """A broker of this test's own, so the consumers read only this test's events."""
    broker = DevBroker(log_path=tmp_path / "broker.log").start()
    try:
        await ensure_topics(broker.bootstrap_servers, partitions=3)
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture
async def system(
    database_url: str,
    private_broker: str,
    tmp_path: Path,
    issue_api_key: Callable[..., str],
) -> AsyncIterator[System]:
    """The four services with tracing on (no endpoint), each service's spans kept in memory."""
    running = System(database_url=database_url, token=issue_api_key("admin", name="tracing"))
    async with contextlib.AsyncExitStack() as stack:
        for name, factory, settings_class, extra in SERVICES:
            server = await stack.enter_async_context(
                running_service(
                    factory,
                    settings_class,
                    service=name,
                    database_url=database_url,
                    kafka_bootstrap=private_broker,
                    api_keys_file=tmp_path / "api-keys.json",
                    tracing_enabled=True,
                    **extra,
                )
            )
            provider = server.app.state.runtime.tracing.provider
            assert provider is not None, f"{name} is not tracing"
            exporter = InMemorySpanExporter()
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            running.servers[name] = server
            running.spans[name] = exporter
        yield running


def request_span(system: System, service: str, caller: Caller, route: str) -> ReadableSpan:
    """The service's server span of the caller's request: a child of the caller's span."""
    [span] = [
        s
        for s in system.in_trace(service, caller)
        if s.kind is SpanKind.SERVER and s.name == f"POST {route}"
    ]
    assert span.parent is not None and f"{span.parent.span_id:016x}" == caller.span_id
    # The request's SQL is in the trace too (the instrumented engine).
    assert any(s.kind is SpanKind.CLIENT for s in system.in_trace(service, caller))
    return span


def span_ids(spans: list[ReadableSpan]) -> set[int]:
    return {span.context.span_id for span in spans}


async def follow_opening(
    system: System, *, api: str, schema: str, route: str, body: dict[str, Any], event_type: str
) -> str:
    """POSTs a contact in a trace of the test's own and follows it to both consumers."""
    caller = Caller()
    async with system.client(api) as client:
        response = await client.post(route, json=body, headers=caller.headers)
    assert response.status_code == 201, response.text
    contact_id = response.json()["id"]

    request = request_span(system, api, caller, route)
    written = await system.outbox_traceparent(schema, event_type=event_type, subject=contact_id)
    assert written.split("-")[1] == caller.trace_id
    producer_spans = span_ids(system.in_trace(api, caller))
    for consumer in ("sla-monitor", "metrics-api"):
        consumed = await system.consumer_span(
            consumer, caller, event_type=event_type, subject=contact_id
        )
        assert consumed.parent is not None and consumed.parent.span_id in producer_spans
        assert (consumed.attributes or {})["messaging.destination.name"] == CONTACT_EVENTS
        assert consumed.resource.attributes["service.name"] == consumer
    assert request.resource.attributes["service.name"] == api
    return contact_id


async def test_one_trace_from_each_api_through_sla_monitor_to_metrics_api(system: System) -> None:
    received_at = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0).isoformat()

    enquiry_id = await follow_opening(
        system,
        api="enquiry-api",
        schema="enquiry",
        route="/v1/enquiries",
        body={
            "channel": "email",
            "service_area": "waste",
            "received_at": received_at,
            "description": "A bin not collected",
        },
        event_type="enquiry.opened",
    )
    enquiry_trace = await follow_step_to_sla_met(
        system,
        api="enquiry-api",
        path=f"/v1/enquiries/{enquiry_id}/acknowledge",
        body={},
        subject=enquiry_id,
        event_type="enquiry.acknowledged",
    )

    complaint_id = await follow_opening(
        system,
        api="complaints-api",
        schema="complaints",
        route="/v1/complaints",
        body={
            "channel": "email",
            "service_area": "waste",
            "received_at": received_at,
            "description": "Nobody answered my enquiry",
        },
        event_type="complaint.received",
    )
    complaint_trace = await follow_step_to_sla_met(
        system,
        api="complaints-api",
        path=f"/v1/complaints/{complaint_id}/acknowledge",
        body={"officer": "officer-1"},
        subject=complaint_id,
        event_type="complaint.acknowledged",
    )
    # Between them, the two traces cross all four services.
    assert enquiry_trace | complaint_trace == {
        "enquiry-api",
        "complaints-api",
        "sla-monitor",
        "metrics-api",
    }


async def follow_step_to_sla_met(
    system: System, *, api: str, path: str, body: dict[str, Any], subject: str, event_type: str
) -> set[str]:
    """A step that stops a clock: the API's request, sla-monitor's consumer span of the step,
    the sla.met it writes carrying that span, and metrics-api's span of sla.met under it."""
    caller = Caller()
    async with system.client(api) as client:
        response = await client.post(path, json=body, headers=caller.headers)
    assert response.status_code == 200, response.text
    [request] = [s for s in system.in_trace(api, caller) if s.kind is SpanKind.SERVER]
    assert request.parent is not None and f"{request.parent.span_id:016x}" == caller.span_id

    step = await system.consumer_span("sla-monitor", caller, event_type=event_type, subject=subject)
    assert step.parent is not None and step.parent.span_id in span_ids(system.in_trace(api, caller))
    written = await system.outbox_traceparent("sla", event_type="sla.met", subject=subject)
    assert written == f"00-{caller.trace_id}-{step.context.span_id:016x}-01"
    met = await system.consumer_span("metrics-api", caller, event_type="sla.met", subject=subject)
    assert met.parent is not None and met.parent.span_id == step.context.span_id
    assert (met.attributes or {})["messaging.destination.name"] == SLA_EVENTS
    # metrics-api read the step itself too, in the same trace.
    await system.consumer_span("metrics-api", caller, event_type=event_type, subject=subject)
    services = {str(s.resource.attributes["service.name"]) for s in (request, step, met)}
    assert services == {api, "sla-monitor", "metrics-api"}
    return services
