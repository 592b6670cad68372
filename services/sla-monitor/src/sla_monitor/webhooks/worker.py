"""The delivery worker: sends due webhook deliveries, signed, and records every attempt.

A pass claims due deliveries under `FOR UPDATE SKIP LOCKED` and leases them (their next attempt
moved past the time an attempt can take), commits, sends them with bounded concurrency, and
records each answer in a transaction of its own. A worker that dies mid-pass leaves its
deliveries leased; they fall due again when the lease runs out and are sent with the same
`webhook-id`, which receivers dedupe on. `stop()` lets the pass in flight finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from contact_common.db import transaction
from contact_common.logs import get_logger
from sla_monitor.webhooks import repository, service
from sla_monitor.webhooks.domain import Backoff, Outcome, UnsafeUrl, after_failure, check_addresses

log = get_logger(__name__)

WEBHOOK_ATTEMPTS = Counter(
    "sla_webhook_attempts_total",
    "Webhook delivery attempts, by outcome (delivered, failed, timeout, error, refused)",
    ["outcome"],
)
WEBHOOK_DELIVERIES = Counter(
    "sla_webhook_deliveries_total",
    "Webhook deliveries finished, by outcome: delivered, or failed once retries ran out",
    ["outcome"],
)
WEBHOOK_DURATION = Histogram(
    "sla_webhook_attempt_duration_seconds",
    "From sending a webhook to its answer",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
WEBHOOK_PENDING = Gauge("sla_webhook_deliveries_pending", "Webhook deliveries not yet finished")

USER_AGENT = "council-contact-sla-monitor/webhooks"


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class WebhookWorker:
    """Sends pending webhook deliveries as they fall due, retrying with backoff."""

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        timeout: float = 10.0,
        max_age: timedelta = timedelta(hours=24),
        backoff: Backoff | None = None,
        poll_interval: float = 1.0,
        batch_size: int = 50,
        concurrency: int = 10,
        allow_private: bool = False,
        now: Callable[[], datetime] = _wall_clock,
    ) -> None:
        self.session_factory = session_factory
        self.timeout = timeout
        self.max_age = max_age
        self.backoff = backoff or Backoff()
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.allow_private = allow_private
        self.now = now
        # Long enough for the slowest attempt of a pass and its record to finish.
        self.lease = timedelta(seconds=timeout * 2 + 30)
        self._limit = asyncio.Semaphore(concurrency)
        self._rng = random.Random()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._client: httpx.AsyncClient | None = None

    def wake(self) -> None:
        """Asks for a pass now: deliveries were just committed."""
        self._wake.set()

    def stop(self) -> None:
        """Finishes the pass in flight and starts no other."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Passes until stopped: at once while there is more, else on a wake or a poll."""
        service.subscribe_worker(self.wake)
        # trust_env=False: no proxy or certificate settings from the environment; redirects
        # are not followed, so a receiver cannot send the request on to an address refused here.
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout), follow_redirects=False, trust_env=False
        )
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                try:
                    sent = await self.run_pass()
                except Exception as exc:  # the database away: try again on the next poll
                    log.warning("webhook pass failed", error=f"{type(exc).__name__}: {exc}")
                    sent = 0
                if sent < self.batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
        finally:
            service.unsubscribe_worker(self.wake)
            await self._client.aclose()

    async def run_pass(self) -> int:
        """Claims the due deliveries, sends them and records the answers; how many were sent."""
        now = self.now()
        async with transaction(self.session_factory) as session:
            rows = await repository.claim_due(
                session, now=now, lease_until=now + self.lease, limit=self.batch_size
            )
            if len(rows) < self.batch_size:
                WEBHOOK_PENDING.set(await repository.pending_count(session))
        if rows:
            await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    async def _deliver(self, row: Any) -> None:
        async with self._limit:
            attempted_at = self.now()
            started = time.perf_counter()
            outcome, status_code, error = await self._send(row)
            elapsed = time.perf_counter() - started
        WEBHOOK_ATTEMPTS.labels(outcome).inc()
        WEBHOOK_DURATION.observe(elapsed)
        attempt = {
            "delivery_id": row.id,
            "attempted_at": attempted_at,
            "duration_ms": round(elapsed * 1000),
            "status_code": status_code,
            "outcome": outcome,
            "error": error[:500] if error else None,
        }
        state = self._after(row, attempted_at, outcome, status_code)
        async with transaction(self.session_factory) as session:
            await repository.record_attempt(session, attempt=attempt, outcome=state)

    def _after(
        self, row: Any, attempted_at: datetime, outcome: Outcome, status_code: int | None
    ) -> dict[str, Any]:
        """The delivery's state after an attempt."""
        state: dict[str, Any] = {"last_attempt_at": attempted_at, "last_status_code": status_code}
        if outcome == "delivered":
            WEBHOOK_DELIVERIES.labels("delivered").inc()
            return {
                **state,
                "status": "delivered",
                "delivered_at": attempted_at,
                "next_attempt_at": None,
            }
        retry_at = after_failure(
            attempt=row.attempts + 1,
            attempted_at=attempted_at,
            retry_from=row.retry_from,
            max_age=self.max_age,
            backoff=self.backoff,
            rng=self._rng,
        )
        if retry_at is None:
            WEBHOOK_DELIVERIES.labels("failed").inc()
            log.warning("webhook delivery failed", delivery_id=str(row.id), attempts=row.attempts)
            return {**state, "status": "failed", "failed_at": attempted_at, "next_attempt_at": None}
        return {**state, "next_attempt_at": retry_at}

    async def _send(self, row: Any) -> tuple[Outcome, int | None, str | None]:
        """One signed POST: its outcome, the status code and what went wrong."""
        assert self._client is not None
        try:
            await self._check_address(row.url)
        except UnsafeUrl as exc:
            return "refused", None, str(exc)
        except OSError as exc:
            return "error", None, f"the host does not resolve: {exc}"
        body = row.payload.decode()
        sent_at = datetime.now(UTC)  # the real time: receivers refuse a skewed timestamp
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": str(row.id),
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(row.secret).sign(str(row.id), sent_at, body),
        }
        try:
            response = await self._client.post(row.url, content=row.payload, headers=headers)
        except httpx.TimeoutException as exc:
            return "timeout", None, f"no answer within {self.timeout:g} s ({type(exc).__name__})"
        except httpx.HTTPError as exc:
            return "error", None, f"{type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            return "delivered", response.status_code, None
        return "failed", response.status_code, f"HTTP {response.status_code}"

    async def _check_address(self, url: str) -> None:
        """Refuses a host that resolves to an address that is not public (the SSRF guard)."""
        if self.allow_private:
            return
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        # An IPv6 link-local answer carries its zone ("fe80::1%eth0"): the address is before it.
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
        check_addresses(addresses, allow_private=False)
