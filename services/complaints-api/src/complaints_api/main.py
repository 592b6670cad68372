"""complaints-api: complaints through stage 1, stage 2 and the Ombudsman."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from complaints_api.complaints.errors import answer_refusals
from complaints_api.complaints.router import router as complaints_router
from complaints_api.config import Settings, get_settings
from complaints_api.models import idempotency_key, outbox
from contact_common.bus.relay import OutboxRelay
from contact_common.idempotency import serve_idempotency
from contact_common.service import ServiceRuntime
from contact_common.service import create_app as create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    """The complaints-api application."""
    settings = settings or get_settings()
    runtime = ServiceRuntime(settings)
    runtime.add_worker(
        OutboxRelay(
            service=settings.service_name,
            outbox=outbox,
            engine=runtime.engine,
            bootstrap_servers=settings.kafka_bootstrap_servers,
        )
    )
    app = create_service_app(
        runtime=runtime,
        routers=[complaints_router],
        title="Council contact platform: complaints API",
        description=(
            "Records complaints at stage 1, stage 2 and the Ombudsman (LGSCO) with the council's "
            "escalation policy, and "
            "publishes each step as an event on `contact.events`."
        ),
    )
    answer_refusals(app)
    serve_idempotency(
        app,
        table=idempotency_key,
        factory=runtime.session_factory,
        add_worker=runtime.add_worker,
        retention=timedelta(hours=settings.idempotency_retention_hours),
        lease=timedelta(seconds=settings.idempotency_lease_seconds),
    )
    return app
