"""The background task that queues the day's digests and sends the queued mails over SMTP.

Any number of instances may run: a team being digested and a mail being sent are row-locked
(FOR UPDATE SKIP LOCKED) by the instance doing it. A mail is marked sent in the transaction
that claimed it, after the SMTP server accepted it; a crash in between sends it again on the
next try with the same Message-ID (at least once; a mail is never lost).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiosmtplib
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_common.db import transaction
from contact_common.logs import get_logger
from sla_monitor.alerts import repository, service
from sla_monitor.alerts.domain import NO_LINKS, ContactLinks, retry_delay
from sla_monitor.alerts.render import Rendered, message
from sla_monitor.timekeeping import Clock

log = get_logger(__name__)

MAILS_SENT = Counter("sla_alert_mails_sent_total", "Alert mails the SMTP server accepted", ["kind"])
MAILS_FAILED = Counter(
    "sla_alert_mails_failed_total", "Alert mail tries that failed (each retry counts)", ["kind"]
)
MAILS_ABANDONED = Counter(
    "sla_alert_mails_abandoned_total", "Alert mails given up on after their last try", ["kind"]
)
DIGESTS_QUEUED = Counter("sla_alert_digests_queued_total", "Scheduled daily digests queued")
LOOP_ERRORS = Gauge("sla_alert_mailer_failing", "1 while the mailer's last round failed")


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where and how the mails go."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_seconds: float = 30.0


class AlertMailer:
    """Queues due digests and sends queued mails, every `poll_seconds`, until stopped."""

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock,
        smtp: SmtpServer,
        poll_seconds: float = 1.0,
        batch_size: int = 20,
        max_attempts: int = 10,
        digest_max_rows: int = 100,
        links: ContactLinks = NO_LINKS,
    ) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self.smtp = smtp
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.digest_max_rows = digest_max_rows
        self.links = links
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Rounds of digests and sends until `stop()`; a failing round is logged and retried."""
        while not self._stopping.is_set():
            try:
                await self.round()
                LOOP_ERRORS.set(0)
            except Exception:  # the database away, say: try again next round
                LOOP_ERRORS.set(1)
                log.exception("alert mailer round failed")
            # Real seconds, not the service clock's: this is how often to look, not a deadline.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.poll_seconds)

    def stop(self) -> None:
        """Asks the loop to stop after its current round."""
        self._stopping.set()

    async def round(self) -> int:
        """Queues the digests due now, then sends what is due; how many mails were sent."""
        now = self.clock.now()
        async with transaction(self.session_factory) as session:
            queued = await service.queue_due_digests(
                session, now=now, max_rows=self.digest_max_rows, links=self.links
            )
        DIGESTS_QUEUED.inc(len(queued))
        for team in queued:
            log.info("alert digest queued", team=team.name)
        sent = 0
        while not self._stopping.is_set():
            claimed, batch_sent = await self._send_batch()
            sent += batch_sent
            if claimed < self.batch_size:
                break
        return sent

    async def _send_batch(self) -> tuple[int, int]:
        """Claims a batch of due mails and tries each: (how many claimed, how many sent)."""
        async with transaction(self.session_factory) as session:
            now = self.clock.now()
            mails = await repository.claim_due_mails(session, now=now, limit=self.batch_size)
            sent = 0
            for mail in mails:
                sent += await self._send_one(session, mail, now=now)
            return len(mails), sent

    async def _send_one(self, session: AsyncSession, mail: Any, *, now: datetime) -> int:
        rendered = Rendered(subject=mail.subject, text=mail.text_body, html=mail.html_body)
        envelope = message(
            mail_id=mail.id,
            sender=self.smtp.sender,
            recipient=mail.recipient,
            rendered=rendered,
            now=now,
        )
        try:
            # Flattened here, by the message's own policy: aiosmtplib's would fold the subject.
            await aiosmtplib.send(
                bytes(envelope),
                sender=self.smtp.sender,
                recipients=[mail.recipient],
                hostname=self.smtp.host,
                port=self.smtp.port,
                username=self.smtp.username,
                password=self.smtp.password,
                start_tls=self.smtp.starttls,
                timeout=self.smtp.timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self._failed(session, mail, exc, now=now)
            return 0
        await repository.mark_mail(
            session, mail.id, sent_at=self.clock.now(), attempts=mail.attempts + 1, last_error=None
        )
        MAILS_SENT.labels(kind=mail.kind).inc()
        log.info("alert mail sent", mail_id=str(mail.id), kind=mail.kind)
        return 1

    async def _failed(
        self, session: AsyncSession, mail: Any, exc: Exception, *, now: datetime
    ) -> None:
        attempts = mail.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "last_error": repr(exc)[:500]}
        if attempts >= self.max_attempts:
            values["abandoned_at"] = now
            MAILS_ABANDONED.labels(kind=mail.kind).inc()
        else:
            values["next_attempt_at"] = now + timedelta(seconds=retry_delay(attempts))
        await repository.mark_mail(session, mail.id, **values)
        MAILS_FAILED.labels(kind=mail.kind).inc()
        log.warning(
            "alert mail failed",
            mail_id=str(mail.id),
            kind=mail.kind,
            attempts=attempts,
            error=repr(exc),
            gave_up="abandoned_at" in values,
        )
