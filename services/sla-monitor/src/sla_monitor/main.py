"""sla-monitor: keeps every published commitment; flags a breach within a second of its deadline."""

from __future__ import annotations

from fastapi import FastAPI

from contact_common.bus.consumer import EventConsumer
from contact_common.bus.relay import OutboxRelay
from contact_common.bus.topics import CONTACT_EVENTS
from contact_common.service import ServiceRuntime
from contact_common.service import create_app as create_service_app
from sla_monitor.config import Settings, get_settings
from sla_monitor.consumers.contact_events import contact_events_handler
from sla_monitor.models import outbox


def create_app(settings: Settings | None = None) -> FastAPI:
    """The sla-monitor application."""
    settings = settings or get_settings()
    runtime = ServiceRuntime(settings)
    runtime.add_worker(
        EventConsumer(
            group_id="sla-monitor",
            topics=[CONTACT_EVENTS],
            bootstrap_servers=settings.kafka_bootstrap_servers,
            handler=contact_events_handler(runtime.session_factory),
        )
    )
    runtime.add_worker(
        OutboxRelay(
            service=settings.service_name,
            outbox=outbox,
            engine=runtime.engine,
            session_factory=runtime.session_factory,
            bootstrap_servers=settings.kafka_bootstrap_servers,
        )
    )
    return create_service_app(
        runtime=runtime,
        title="Council contact platform: SLA monitor",
        description=(
            "Runs a clock per contact and published commitment from `contact.events`, and "
            "publishes `sla.at_risk`, `sla.breached` and `sla.met` to `sla.events`."
        ),
    )
