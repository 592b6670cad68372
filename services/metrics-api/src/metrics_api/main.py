"""metrics-api: the KPI score card, SLA compliance and channel shift, from its own read models."""

from __future__ import annotations

from fastapi import FastAPI

from contact_common.bus.consumer import EventConsumer
from contact_common.bus.topics import CONTACT_EVENTS, SLA_EVENTS
from contact_common.service import ServiceRuntime
from contact_common.service import create_app as create_service_app
from metrics_api.config import Settings, get_settings
from metrics_api.consumers.events import events_handler


def create_app(settings: Settings | None = None) -> FastAPI:
    """The metrics-api application."""
    settings = settings or get_settings()
    runtime = ServiceRuntime(settings)
    runtime.add_worker(
        EventConsumer(
            group_id="metrics-api",
            topics=[CONTACT_EVENTS, SLA_EVENTS],
            bootstrap_servers=settings.kafka_bootstrap_servers,
            handler=events_handler(runtime.session_factory),
        )
    )
    return create_service_app(
        runtime=runtime,
        title="Council contact platform: metrics API",
        description=(
            "Answers KPI, SLA compliance, call wait and channel shift questions from read "
            "models it builds by consuming `contact.events` and `sla.events`."
        ),
    )
