"""Distributed tracing (OpenTelemetry): one trace from an HTTP request to every consumer it reaches.

The W3C trace context travels with the events: `Outbox.add` writes the current span's
`traceparent` (and `tracestate`) into the outbox row and onto the event as the CloudEvents
distributed-tracing extension, which the relay publishes as part of the structured-mode message;
`EventConsumer` starts each consumed event's span as a child of that context, and an event a
consumer writes while handling it (sla-monitor's sla.* events) carries the consumer's span, so
metrics-api's span continues the same trace.

Off by default: with neither an OTLP endpoint nor `TRACING_ENABLED`, a service has no tracer
provider, no instrumentation and no span, and nothing is added to its events. On, each service
process has a `TracerProvider` of its own (four services may share a process in the tests),
instruments its FastAPI app and its engine, and exports over OTLP/HTTP when an endpoint is set.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from structlog.typing import EventDict

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import AsyncEngine

    from contact_common.bus.consumer import ConsumedEvent
    from contact_common.settings import ServiceSettings

TRACE_HEADERS: Final = ("traceparent", "tracestate")
"""The W3C trace-context fields, and the CloudEvents extension attributes that carry them."""
UNTRACED_PATHS: Final = "healthz,readyz,metrics"
"""Probes and scrapes: a span each would bury the requests."""

_PROPAGATOR: Final = TraceContextTextMapPropagator()
# While a consumer's handler runs: each consumed event's span, by the contact it is about.
_CONSUMED: ContextVar[Mapping[str, Context] | None] = ContextVar("consumed_spans", default=None)


class _NoRootClients(Sampler):
    """Samples no span that would start a trace as a client: the relay's and the timers' polls
    are database calls outside any request or message, and a trace each would bury the rest."""

    def __init__(self, root: Sampler) -> None:
        self._root = root

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Any = None,
        links: Sequence[Link] | None = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        if kind == SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return self._root.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"NoRootClients{{{self._root.get_description()}}}"


@dataclass(frozen=True)
class Tracing:
    """A service process's tracing: its provider and tracer, or neither when tracing is off."""

    provider: TracerProvider | None = None

    @property
    def tracer(self) -> Tracer | None:
        """The service's tracer; None when tracing is off."""
        if self.provider is None:
            return None
        return self.provider.get_tracer("contact_common")

    def instrument_app(self, app: FastAPI) -> None:
        """A server span for every request but the probes (and the context it brings)."""
        if self.provider is None:
            return
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self.provider,
            excluded_urls=UNTRACED_PATHS,
            exclude_spans=["receive", "send"],
        )

    def instrument_engine(self, engine: AsyncEngine) -> None:
        """A client span for every statement on `engine` within a request's or message's trace."""
        if self.provider is None:
            return
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
        from opentelemetry.metrics import NoOpMeterProvider

        # The engine's tracer directly: SQLAlchemyInstrumentor is a process-wide singleton that
        # instruments once, with one provider, where each service here has its own.
        meter = NoOpMeterProvider().get_meter("contact_common")
        # opentelemetry-instrumentation-sqlalchemy leaves EngineTracer.__init__ unannotated.
        EngineTracer(  # type: ignore[no-untyped-call]
            self.provider.get_tracer("opentelemetry.instrumentation.sqlalchemy"),
            engine.sync_engine,
            meter.create_up_down_counter("db.client.connections.usage"),
        )

    def shutdown(self) -> None:
        """Exports what is buffered and stops (blocking: call it in a thread)."""
        if self.provider is not None:
            self.provider.shutdown()


def configure_tracing(service_name: str, settings: ServiceSettings) -> Tracing:
    """The service's tracing as its settings ask: off unless an OTLP endpoint or
    `tracing_enabled` is set; exported over OTLP/HTTP to `<endpoint>/v1/traces` when one is."""
    endpoint = settings.otel_exporter_otlp_endpoint.strip()
    if not endpoint and not settings.tracing_enabled:
        return Tracing()
    provider = TracerProvider(
        # Built, not Resource.create(): the service names itself, whatever OTEL_SERVICE_NAME says.
        resource=Resource({"service.name": service_name, "service.namespace": "council-contact"}),
        sampler=ParentBased(root=_NoRootClients(TraceIdRatioBased(settings.tracing_sample_ratio))),
    )
    if endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces"))
        )
    return Tracing(provider)


def trace_context_for(subject: str) -> dict[str, str]:
    """The W3C trace context an event about the contact `subject` carries; empty if untraced.

    Inside a consumer's handler, the span of the consumed event about the same contact (its
    last in the batch), since a handler writes a whole batch's events at once; elsewhere the
    current span (a request's).
    """
    consumed = _CONSUMED.get()
    context = consumed.get(subject) if consumed else None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context)
    return carrier


def event_context(extensions: Mapping[str, Any]) -> Context:
    """The producer's context an event carries in its trace extension (empty if none)."""
    carrier = {
        name: value for name in TRACE_HEADERS if isinstance(value := extensions.get(name), str)
    }
    return _PROPAGATOR.extract(carrier) if carrier else Context()


@contextlib.contextmanager
def consuming(
    tracer: Tracer | None, *, group: str, topic: str, items: Sequence[ConsumedEvent]
) -> Iterator[None]:
    """Spans for a batch a consumer handles, open while the handler runs.

    Each event's span is a child of its producer's context; the handler's own work (its SQL)
    is under that span when the batch holds one event, else under a batch span linked to each.
    """
    if tracer is None or not items:
        yield
        return
    spans = [_event_span(tracer, group=group, item=item) for item in items]
    consumed = {
        item.event.subject: trace.set_span_in_context(span)
        for item, span in zip(items, spans, strict=True)
    }
    token = _CONSUMED.set(consumed)
    batch = (
        None
        if len(spans) == 1
        else tracer.start_span(
            f"process {topic}",
            kind=SpanKind.CONSUMER,
            links=[Link(s.get_span_context()) for s in spans],
            attributes={**_messaging(group, topic), "messaging.batch.message_count": len(spans)},
        )
    )
    try:
        with trace.use_span(
            batch or spans[0],
            end_on_exit=False,
            record_exception=False,
            set_status_on_exception=False,
        ):
            yield
    except BaseException as exc:
        for span in [*spans, *([batch] if batch else [])]:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        _CONSUMED.reset(token)
        for span in [*spans, *([batch] if batch else [])]:
            span.end()


def _event_span(tracer: Tracer, *, group: str, item: ConsumedEvent) -> trace.Span:
    event = item.event
    return tracer.start_span(
        f"process {item.topic}",
        context=event_context(event.extensions),
        kind=SpanKind.CONSUMER,
        attributes={
            **_messaging(group, item.topic),
            "messaging.destination.partition.id": str(item.partition),
            "messaging.kafka.offset": item.offset,
            "messaging.message.id": str(event.id),
            "cloudevents.event_id": str(event.id),
            "cloudevents.event_type": event.type,
            "cloudevents.event_source": event.source,
            "cloudevents.event_subject": event.subject,
        },
    )


def _messaging(group: str, topic: str) -> dict[str, str]:
    return {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": topic,
        "messaging.consumer.group.name": group,
    }


def log_trace_ids(_: Any, __: str, event_dict: EventDict) -> EventDict:
    """A structlog processor: the current span's trace and span ids on the line, when traced."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict
