"""Tracing: the W3C trace context from a request's span into the outbox row, onto the message as
the CloudEvents distributed-tracing extension, and into a consumer's span and what it writes;
off by default, and exported over OTLP/HTTP only when an endpoint is set."""

from __future__ import annotations

import io
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pydantic_settings import SettingsConfigDict
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contact_common import logs
from contact_common.bus.binding import from_message, structured_message
from contact_common.bus.consumer import ConsumedEvent
from contact_common.bus.topics import CONTACT_EVENTS
from contact_common.db import create_session_factory, service_metadata, transaction
from contact_common.events import (
    Channel,
    CloudEvent,
    ComplaintReceived,
    ComplaintReceivedData,
    ComplaintStage,
)
from contact_common.logs import configure_logging, copy_logs_to, get_logger
from contact_common.outbox import Outbox, outbox_table
from contact_common.settings import ServiceSettings
from contact_common.tracing import (
    Tracing,
    configure_tracing,
    consuming,
    event_context,
    trace_context_for,
)
from contact_devtools.broker import free_port

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
TRACESTATE = "council=contact"
SCHEMA = "t_tracing"
CreateTables = Callable[[str, MetaData], Awaitable[AsyncEngine]]


def complaint() -> ComplaintReceived:
    complaint_id = uuid.uuid4()
    return ComplaintReceived.from_data(
        ComplaintReceivedData(
            complaint_id=complaint_id,
            channel=Channel.email,
            service_area="waste",
            received_at=datetime(2026, 5, 6, 9, 30, tzinfo=UTC),
            reference="CMP-2026-000045",
            stage=ComplaintStage.stage_1,
        ),
        source="/complaints-api",
    )


def settings(**values: object) -> ServiceSettings:
    return ServiceSettings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture
def traced() -> Iterator[tuple[Tracing, InMemorySpanExporter]]:
    """Tracing on, with no endpoint, its spans kept in memory."""
    tracing = configure_tracing("test-service", settings(tracing_enabled=True))
    assert tracing.provider is not None
    exporter = InMemorySpanExporter()
    tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield tracing, exporter
    tracing.shutdown()


def traceparent_of(span: trace.Span | ReadableSpan) -> str:
    context = span.get_span_context()
    assert context is not None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


async def written(url: str, create_tables: CreateTables, events: list[CloudEvent]) -> list:
    """The outbox rows `events` make, committed on the database at `url`."""
    metadata = service_metadata(SCHEMA)
    table = outbox_table(metadata)
    engine = await create_tables(url, metadata)
    outbox = Outbox(table)
    async with transaction(create_session_factory(engine)) as session:
        await outbox.add_many(session, events)
    async with engine.connect() as connection:
        return list((await connection.execute(select(table).order_by(table.c.id))).all())


# -- through the outbox and the binding ----------------------------------------------------------


async def test_a_request_s_trace_context_goes_into_the_outbox_row_and_onto_the_message(
    any_url: str, create_tables: CreateTables, traced: tuple[Tracing, InMemorySpanExporter]
) -> None:
    tracing, _ = traced
    assert tracing.tracer is not None
    # The request's span, continuing a caller's trace that has a tracestate of its own.
    caller = event_context({"traceparent": TRACEPARENT, "tracestate": TRACESTATE})
    event = complaint()
    with tracing.tracer.start_as_current_span("POST /v1/complaints", context=caller) as request:
        [row] = await written(any_url, create_tables, [event])

    assert row.traceparent == traceparent_of(request)
    assert row.traceparent.split("-")[1] == TRACEPARENT.split("-")[1]  # the caller's trace
    # The relay's message: the row's payload as it is, structured mode.
    message = structured_message(row.key, row.payload)
    structured = orjson.loads(message.value)
    assert structured["traceparent"] == row.traceparent
    assert structured["tracestate"] == TRACESTATE
    received = from_message(message)
    assert received.id == event.id
    assert received.extensions == {"traceparent": row.traceparent, "tracestate": TRACESTATE}
    # What a consumer takes as its parent is the request's span, tracestate and all.
    parent = trace.get_current_span(event_context(received.extensions)).get_span_context()
    assert parent.trace_id == request.get_span_context().trace_id
    assert parent.span_id == request.get_span_context().span_id
    assert parent.is_remote
    assert parent.trace_state.get("council") == "contact"


async def test_an_untraced_event_has_no_traceparent_and_its_message_is_still_valid(
    any_url: str, create_tables: CreateTables
) -> None:
    event = complaint()
    [row] = await written(any_url, create_tables, [event])
    assert row.traceparent is None
    message = structured_message(row.key, row.payload)
    assert "traceparent" not in orjson.loads(message.value)
    received = from_message(message)
    assert received == event
    assert received.extensions == {}
    # A consumer's span for it starts a trace of its own.
    assert (
        not trace.get_current_span(event_context(received.extensions)).get_span_context().is_valid
    )


async def test_an_event_that_carries_a_trace_keeps_it(
    any_url: str, create_tables: CreateTables, traced: tuple[Tracing, InMemorySpanExporter]
) -> None:
    tracing, _ = traced
    assert tracing.tracer is not None
    carried = complaint().with_extensions(traceparent=TRACEPARENT)
    with tracing.tracer.start_as_current_span("a replay"):
        [row] = await written(any_url, create_tables, [carried])
    assert row.traceparent == TRACEPARENT
    assert from_message(structured_message(row.key, row.payload)).extensions == {
        "traceparent": TRACEPARENT
    }


def test_a_traceparent_of_another_shape_is_ignored() -> None:
    assert not trace.get_current_span(event_context({"traceparent": "00-nonsense"})).is_recording()
    assert event_context({"traceparent": 7}) == event_context({})


# -- a consumer's spans --------------------------------------------------------------------------


def consumed(event: CloudEvent, offset: int) -> ConsumedEvent:
    return ConsumedEvent(event, CONTACT_EVENTS, partition=2, offset=offset)


def test_a_consumer_span_continues_its_producer_s_trace_and_what_it_writes_continues_it(
    traced: tuple[Tracing, InMemorySpanExporter],
) -> None:
    tracing, exporter = traced
    event = complaint().with_extensions(traceparent=TRACEPARENT)
    with consuming(
        tracing.tracer, group="sla-monitor", topic=CONTACT_EVENTS, items=[consumed(event, 41)]
    ):
        written_by_handler = trace_context_for(event.subject)
        current = trace.get_current_span()
    [span] = exporter.get_finished_spans()
    assert span.kind is SpanKind.CONSUMER
    assert span.name == f"process {CONTACT_EVENTS}"
    assert span.parent is not None and span.parent.is_remote
    assert f"{span.parent.trace_id:032x}" == TRACEPARENT.split("-")[1]
    assert f"{span.parent.span_id:016x}" == TRACEPARENT.split("-")[2]
    assert span.attributes is not None
    assert span.attributes["cloudevents.event_id"] == str(event.id)
    assert span.attributes["messaging.kafka.offset"] == 41
    assert span.attributes["messaging.consumer.group.name"] == "sla-monitor"
    # The handler's own work is under the event's span, and so is the event it writes.
    assert current.get_span_context().span_id == span.context.span_id
    assert written_by_handler["traceparent"] == traceparent_of(span)


def test_a_batch_s_events_each_continue_their_own_trace(
    traced: tuple[Tracing, InMemorySpanExporter],
) -> None:
    tracing, exporter = traced
    first = complaint().with_extensions(traceparent=TRACEPARENT)
    second = complaint()  # from an untraced producer: a trace of its own
    items = [consumed(first, 1), consumed(second, 2)]
    with consuming(tracing.tracer, group="metrics-api", topic=CONTACT_EVENTS, items=items):
        contexts = [trace_context_for(first.subject), trace_context_for(second.subject)]
        elsewhere = trace_context_for(str(uuid.uuid4()))
    spans = exporter.get_finished_spans()
    by_event = {
        s.attributes["cloudevents.event_id"]: s
        for s in spans
        if s.attributes and "cloudevents.event_id" in s.attributes
    }
    [batch] = [s for s in spans if s not in by_event.values()]
    assert contexts == [
        {"traceparent": traceparent_of(by_event[str(first.id)])},
        {"traceparent": traceparent_of(by_event[str(second.id)])},
    ]
    assert f"{by_event[str(first.id)].context.trace_id:032x}" == TRACEPARENT.split("-")[1]
    assert by_event[str(second.id)].parent is None
    # The batch's own work (its SQL) is under a batch span linked to every event's span.
    assert {link.context.span_id for link in batch.links} == {
        s.context.span_id for s in by_event.values()
    }
    assert batch.attributes is not None and batch.attributes["messaging.batch.message_count"] == 2
    assert elsewhere == {"traceparent": traceparent_of(batch)}


def test_a_failed_batch_marks_its_spans_failed(
    traced: tuple[Tracing, InMemorySpanExporter],
) -> None:
    tracing, exporter = traced
    with (
        pytest.raises(RuntimeError),
        consuming(
            tracing.tracer, group="g", topic=CONTACT_EVENTS, items=[consumed(complaint(), 0)]
        ),
    ):
        raise RuntimeError("the database went away")
    [span] = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]


# -- off by default, and exported when configured ------------------------------------------------


def test_tracing_is_off_by_default_and_then_writes_nothing() -> None:
    tracing = configure_tracing("test-service", settings())
    assert tracing.provider is None and tracing.tracer is None
    event = complaint()
    with consuming(None, group="g", topic=CONTACT_EVENTS, items=[consumed(event, 0)]):
        assert trace_context_for(event.subject) == {}
        assert not trace.get_current_span().get_span_context().is_valid


class _TracedService(ServiceSettings):
    __test__ = False
    model_config = SettingsConfigDict(env_prefix="TRACEDSVC_", env_file=None, extra="ignore")


def test_the_standard_otlp_endpoint_variable_configures_every_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector:4318")
    monkeypatch.setenv("TRACING_SAMPLE_RATIO", "0.25")
    shared = _TracedService()
    assert shared.otel_exporter_otlp_endpoint == "http://otel-collector:4318"
    assert shared.tracing_sample_ratio == 0.25
    assert not shared.tracing_enabled  # the endpoint alone turns tracing on
    monkeypatch.setenv("TRACEDSVC_OTEL_EXPORTER_OTLP_ENDPOINT", "")
    assert _TracedService().otel_exporter_otlp_endpoint == ""  # a service may opt out


def test_database_calls_outside_a_trace_start_none(
    traced: tuple[Tracing, InMemorySpanExporter],
) -> None:
    tracing, exporter = traced
    assert tracing.tracer is not None
    with tracing.tracer.start_as_current_span("relay poll", kind=SpanKind.CLIENT) as poll:
        assert not poll.is_recording()
    with (
        tracing.tracer.start_as_current_span("GET /v1/enquiries", kind=SpanKind.SERVER),
        tracing.tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT) as query,
    ):
        assert query.is_recording()
    assert [s.name for s in exporter.get_finished_spans()] == ["SELECT", "GET /v1/enquiries"]


def test_a_log_line_within_a_span_carries_its_trace_id(
    traced: tuple[Tracing, InMemorySpanExporter],
) -> None:
    tracing, _ = traced
    assert tracing.tracer is not None
    # The session's logging (its level, and the copy into the session log that other tests read)
    # is put back afterwards, whatever happens here.
    saved_structlog = structlog.get_config()
    saved_copies = list(logs._copies)
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    configure_logging(service="test-service")
    lines = io.StringIO()
    copy_logs_to(lines)
    try:
        with tracing.tracer.start_as_current_span("request") as span:
            get_logger("test").info("inside")
        get_logger("test").info("outside")
    finally:
        structlog.configure(**saved_structlog)
        logs._copies[:] = saved_copies
        root.setLevel(saved_level)
        root.handlers[:] = saved_handlers
    inside, outside = [orjson.loads(line) for line in lines.getvalue().splitlines()]
    assert inside["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert inside["span_id"] == f"{span.get_span_context().span_id:016x}"
    assert "trace_id" not in outside


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, str, int]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers["Content-Length"])
        self.rfile.read(length)
        self.received.append((self.path, self.headers["Content-Type"], length))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return


def test_spans_are_exported_over_otlp_http_to_the_endpoint_when_set() -> None:
    port = free_port()
    collector = ThreadingHTTPServer(("127.0.0.1", port), _Collector)
    thread = threading.Thread(target=collector.serve_forever, daemon=True)
    thread.start()
    try:
        tracing = configure_tracing(
            "enquiry-api", settings(otel_exporter_otlp_endpoint=f"http://127.0.0.1:{port}/")
        )
        assert tracing.tracer is not None
        with tracing.tracer.start_as_current_span("POST /v1/enquiries"):
            pass
        tracing.shutdown()  # exports what the batch processor holds
    finally:
        collector.shutdown()
        collector.server_close()
        thread.join(timeout=5)
    [(path, content_type, length)] = _Collector.received
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    assert length > 0
