"""enquiry-api: every contact the council receives, on every channel, and its lifecycle."""

from __future__ import annotations

from fastapi import FastAPI

from contact_common.service import ServiceRuntime, keep_idempotency_keys
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

OPENAPI_TAGS = {
    "enquiries": "Enquiries on every channel and their lifecycle.",
    "calls": "Telephony call records.",
    "visits": "Reception visits.",
    "feedback": "Satisfaction scores (KPI CX02).",
    "standby": "The out-of-hours standby contractor's call records.",
    "customers": "Erasure of a customer's personal data.",
    "open311": "Open311 GeoReport v2 (and mySociety's servicerequestupdates), for websites and "
    "reporting sites such as FixMyStreet. Errors in the spec's own format.",
    "operations": "Health, readiness and metrics.",
}


def create_app(settings: Settings | None = None) -> FastAPI:
    """The enquiry-api application."""
    settings = settings or get_settings()
    runtime = ServiceRuntime(settings)
    runtime.add_outbox_relay(outbox)
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
    keep_idempotency_keys(app, table=idempotency_key, settings=settings)
    return app
