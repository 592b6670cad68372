"""enquiry-api: every contact the council receives, on every channel, and its lifecycle."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from contact_common.bus.relay import OutboxRelay
from contact_common.idempotency import serve_idempotency
from contact_common.service import ServiceRuntime
from contact_common.service import create_app as create_service_app
from enquiry_api.calls.router import router as calls_router
from enquiry_api.config import Settings, get_settings
from enquiry_api.customers.router import router as customers_router
from enquiry_api.enquiries.router import router as enquiries_router
from enquiry_api.feedback.router import router as feedback_router
from enquiry_api.models import idempotency_key, load_all_tables, outbox
from enquiry_api.open311.router import router as open311_router
from enquiry_api.standby.router import router as standby_router
from enquiry_api.visits.router import router as visits_router

load_all_tables()

OPENAPI_TAGS = [
    {"name": "enquiries", "description": "Enquiries on every channel and their lifecycle."},
    {"name": "calls", "description": "Telephony call records."},
    {"name": "visits", "description": "Reception visits."},
    {"name": "feedback", "description": "Satisfaction scores (KPI CX02)."},
    {"name": "standby", "description": "The out-of-hours standby contractor's call records."},
    {"name": "customers", "description": "Erasure of a customer's personal data."},
    {
        "name": "open311",
        "description": "Open311 GeoReport v2 (and mySociety's servicerequestupdates), for "
        "websites and reporting sites such as FixMyStreet. Errors in the spec's own format.",
    },
    {"name": "operations", "description": "Health, readiness and metrics."},
]


def create_app(settings: Settings | None = None) -> FastAPI:
    """The enquiry-api application."""
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
        title="Council contact platform: enquiry API",
        description=(
            "Records every contact the council receives (web forms, the portal, Open311, "
            "telephony, reception, email, letters and the out-of-hours standby contractor) and "
            "publishes each step as an event on `contact.events`."
        ),
        routers=[
            enquiries_router,
            calls_router,
            visits_router,
            feedback_router,
            standby_router,
            customers_router,
            open311_router,
        ],
        openapi_tags=OPENAPI_TAGS,
    )
    serve_idempotency(
        app,
        table=idempotency_key,
        factory=runtime.session_factory,
        add_worker=runtime.add_worker,
        retention=timedelta(hours=settings.idempotency_retention_hours),
        lease=timedelta(seconds=settings.idempotency_lease_seconds),
    )
    return app
