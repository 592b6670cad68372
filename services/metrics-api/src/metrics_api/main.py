"""metrics-api: the KPI score card, SLA compliance and channel shift, from its own read models."""

from __future__ import annotations

from fastapi import FastAPI

from contact_common.bus.consumer import EventConsumer
from contact_common.bus.topics import CONTACT_EVENTS, SLA_EVENTS
from contact_common.service import ServiceRuntime
from contact_common.service import create_app as create_service_app
from metrics_api.config import Settings, get_settings
from metrics_api.consumers.events import events_handler, refresh_open_breaches
from metrics_api.dashboard.router import router as dashboard_router
from metrics_api.kpis.router import router as kpis_router
from metrics_api.readmodel.domain import CountingRules


def create_app(settings: Settings | None = None) -> FastAPI:
    """The metrics-api application."""
    settings = settings or get_settings()
    runtime = ServiceRuntime(settings)
    policy = settings.commitments  # a bad policy stops the start-up, naming the entry
    # The call service level and the reception figures count against the commitments' own
    # targets: an answer within phone-answer's, a short abandon within it, a visit within
    # reception-attend's.
    rules = CountingRules(
        timezone=settings.calendar.timezone,
        phone_answer_seconds=policy.elapsed_seconds("phone-answer"),
        reception_attend_seconds=policy.elapsed_seconds("reception-attend"),
    )
    runtime.add_worker(
        EventConsumer(
            group_id=settings.consumer_group,
            topics=[CONTACT_EVENTS, SLA_EVENTS],
            bootstrap_servers=settings.kafka_bootstrap_servers,
            client_id=settings.effective_client_id,
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
            linger_ms=settings.kafka_consumer_linger_ms,
            handler=events_handler(
                runtime.session_factory,
                group=settings.consumer_group,
                rules=rules,
                calendar=settings.calendar,
            ),
            tracer=runtime.tracing.tracer,
        )
    )

    async def gauge_from_read_model() -> None:
        try:
            await refresh_open_breaches(runtime.session_factory)
        except Exception:  # the database may not be up yet; the next batch sets it
            return

    return create_service_app(
        runtime=runtime,
        title="Council contact platform: metrics API",
        description=(
            "Answers KPI, SLA compliance, call wait and channel shift questions from read "
            "models it builds by consuming `contact.events` and `sla.events`."
        ),
        routers=[kpis_router, dashboard_router],
        on_startup=[gauge_from_read_model],
        openapi_tags={
            "metrics": "KPIs, score card, SLA compliance, channels.",
            "dashboard": "The dashboard page and its data.",
        },
    )
