"""sla-monitor: keeps every published commitment; flags a breach within a second of its deadline."""

from __future__ import annotations

from datetime import timedelta

from aiokafka import TopicPartition
from fastapi import FastAPI

from contact_common.bus.consumer import EventConsumer
from contact_common.bus.topics import CONTACT_EVENTS
from contact_common.commitments import Policy
from contact_common.service import ServiceRuntime
from contact_common.service import create_app as create_service_app
from sla_monitor.alerts.mailer import AlertMailer, SmtpServer
from sla_monitor.alerts.router import router as alerts_router
from sla_monitor.alerts.service import CONTACT_LINKS
from sla_monitor.calendar.router import router as calendar_router
from sla_monitor.clocks.router import router as clocks_router
from sla_monitor.clocks.timers import ClockTimers
from sla_monitor.commitments.router import router as commitments_router
from sla_monitor.config import Settings, get_settings
from sla_monitor.consumers.contact_events import contact_events_handler
from sla_monitor.models import outbox
from sla_monitor.staff.router import router as staff_router
from sla_monitor.timekeeping import Clock, SystemClock
from sla_monitor.webhooks.domain import Backoff
from sla_monitor.webhooks.router import router as webhooks_router
from sla_monitor.webhooks.worker import WebhookWorker
from sla_monitor.worklist.router import router as worklist_router

OPENAPI_TAGS = {
    "commitments": "The published commitments in force.",
    "clocks": "Clocks per contact, and the breaches to chase.",
    "worklist": "Open clocks to act on, with their owners.",
    "staff": "The staff directory (admin).",
    "calendar": "Working days, bank holidays and closures.",
    "alerts": "Teams mailed about breaches at once and a daily digest (admin).",
    "webhooks": "Signed HTTP callbacks of sla.* events (admin scope).",
}
ROUTERS = [
    commitments_router,
    clocks_router,
    worklist_router,
    staff_router,
    calendar_router,
    alerts_router,
    webhooks_router,
]


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The sla-monitor application; `clock` lets a test decide what time it is."""
    settings = settings or get_settings()
    policy = settings.commitments  # a bad policy stops the start-up, naming the entry
    clock = clock or SystemClock(timedelta(seconds=settings.clock_offset_seconds))
    runtime = ServiceRuntime(settings)
    # Breach mails are queued wherever a breach is recorded; every session knows the links.
    runtime.session_factory.configure(info={CONTACT_LINKS: settings.contact_links})
    timers = _timers(settings, runtime=runtime, clock=clock)
    consumer = _consumer(settings, runtime=runtime, clock=clock, timers=timers, policy=policy)
    runtime.add_worker(consumer)
    runtime.add_worker(timers)
    runtime.add_outbox_relay(outbox)
    webhooks = _webhook_worker(settings, runtime=runtime)
    runtime.add_worker(webhooks)
    if settings.alerts_enabled:
        runtime.add_worker(_alert_mailer(settings, runtime, clock))
    app = create_service_app(
        runtime=runtime,
        title="Council contact platform: SLA monitor",
        description=(
            "Runs a clock per contact and published commitment from `contact.events`, and "
            "publishes `sla.at_risk`, `sla.breached` and `sla.met` to `sla.events`, and to "
            "the webhook subscriptions that want them (signed per Standard Webhooks). "
            f"Policy in force: `{policy.name}`."
        ),
        routers=ROUTERS,
        openapi_tags=OPENAPI_TAGS,
    )
    app.state.policy = policy
    app.state.calendar = settings.calendar
    app.state.timers = timers
    app.state.consumer = consumer
    app.state.clock = clock
    app.state.webhooks = webhooks
    app.state.webhook_allow_private = settings.webhook_allow_private_addresses
    return app


def _timers(settings: Settings, *, runtime: ServiceRuntime, clock: Clock) -> ClockTimers:
    """The timers that flag breaches and at-risk clocks on time."""
    return ClockTimers(
        session_factory=runtime.session_factory,
        clock=clock,
        horizon=timedelta(seconds=settings.timer_horizon_seconds),
        refresh=timedelta(seconds=settings.timer_refresh_seconds),
        batch_size=settings.timer_batch_size,
    )


def _consumer(
    settings: Settings,
    *,
    runtime: ServiceRuntime,
    clock: Clock,
    timers: ClockTimers,
    policy: Policy,
) -> EventConsumer:
    """The consumer of contact.events, which starts and stops the clocks, and tells the timers
    which partitions are theirs and when each has been read to its end."""
    consumer = EventConsumer(
        group_id=settings.consumer_group,
        topics=[CONTACT_EVENTS],
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=settings.effective_client_id,
        max_records=settings.consumer_batch_size,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        linger_ms=settings.kafka_consumer_linger_ms,
        handler=contact_events_handler(
            session_factory=runtime.session_factory,
            policy=policy,
            calendar=settings.calendar,
            clock=clock,
            timers=timers,
        ),
        on_assigned=timers.on_assigned,
        on_revoked=timers.on_revoked,
        tracer=runtime.tracing.tracer,
    )

    async def caught_up(partition: int) -> bool:
        # A timer trusts a partition only once the consumer has read it to its end: an answer
        # still waiting in the backlog (after a restart, say) must stop its clock first.
        return await consumer.lag(TopicPartition(CONTACT_EVENTS, partition)) == 0

    timers.caught_up = caught_up
    return consumer


def _webhook_worker(settings: Settings, *, runtime: ServiceRuntime) -> WebhookWorker:
    """The worker that delivers the webhooks, retrying with backoff."""
    return WebhookWorker(
        session_factory=runtime.session_factory,
        timeout=settings.webhook_timeout_seconds,
        max_age=timedelta(seconds=settings.webhook_max_age_seconds),
        backoff=Backoff(
            base=timedelta(seconds=settings.webhook_backoff_base_seconds),
            cap=timedelta(seconds=settings.webhook_backoff_cap_seconds),
        ),
        poll_interval=settings.webhook_poll_seconds,
        batch_size=settings.webhook_batch_size,
        concurrency=settings.webhook_concurrency,
        allow_private=settings.webhook_allow_private_addresses,
    )


def _alert_mailer(settings: Settings, runtime: ServiceRuntime, clock: Clock) -> AlertMailer:
    """The mailer of the alert mails, on the configured SMTP server."""
    return AlertMailer(
        session_factory=runtime.session_factory,
        clock=clock,
        smtp=SmtpServer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username or None,
            password=settings.smtp_password.get_secret_value() or None,
            starttls=settings.smtp_starttls,
            timeout_seconds=settings.smtp_timeout_seconds,
        ),
        poll_seconds=settings.alert_poll_seconds,
        max_attempts=settings.alert_max_attempts,
        digest_max_rows=settings.alert_digest_max_rows,
        links=settings.contact_links,
    )
