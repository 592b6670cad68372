"""complaints-api: complaints through stage 1, stage 2 and the Ombudsman."""

from __future__ import annotations

from fastapi import FastAPI

from complaints_api.complaints.errors import answer_refusals
from complaints_api.complaints.router import router as complaints_router
from complaints_api.config import Settings, get_settings
from complaints_api.models import idempotency_key, outbox
from contact_common.service import ServiceRuntime, keep_idempotency_keys
from contact_common.service import create_app as create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    """The complaints-api application."""
    settings = settings or get_settings()
    runtime = ServiceRuntime(settings)
    runtime.add_outbox_relay(outbox)
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
    keep_idempotency_keys(app, table=idempotency_key, settings=settings)
    return app
