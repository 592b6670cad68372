"""enquiry-api: every contact the council receives, on every channel, and its lifecycle."""

from __future__ import annotations

from fastapi import FastAPI

from contact_common.bus.relay import OutboxRelay
from contact_common.service import ServiceRuntime
from contact_common.service import create_app as create_service_app
from enquiry_api.config import Settings, get_settings
from enquiry_api.models import outbox


def create_app(settings: Settings | None = None) -> FastAPI:
    """The enquiry-api application."""
    settings = settings or get_settings()
    runtime = ServiceRuntime(settings)
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
        title="Council contact platform: enquiry API",
        description=(
            "Records every contact the council receives (web forms, the portal, Open311, "
            "telephony, reception, email, letters and the out-of-hours standby contractor) and "
            "publishes each step as an event on `contact.events`."
        ),
    )
