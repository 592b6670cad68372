"""Alert mails on a real SMTP server (aiosmtpd on a random port): a breach is mailed at once and
once, a team's digest lists exactly its open clocks once a day, restarts repeat nothing, and no
mail carries a resident's personal data.

Each test gives its teams service areas of its own (sla-monitor is configured with them), so the
contacts other tests publish to the shared broker never reach its mails.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiosmtpd.controller import Controller
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from typer.testing import CliRunner

from contact_common.bus.topics import CONTACT_EVENTS
from contact_common.db import create_engine, create_session_factory, transaction
from contact_common.events import Channel, CloudEvent, EnquiryOpened, EnquiryOpenedData
from contact_devtools.broker import free_port
from contactctl.main import app as contactctl
from sla_monitor.alerts import service as alerts
from sla_monitor.alerts.models import alert_mail
from sla_monitor.clocks import repository as clocks
from sla_monitor.clocks.domain import Notice, clock_id
from sla_monitor.timekeeping import FakeClock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from upstream_events import Enquiry, london, publish, wait_until  # noqa: E402

# What the enquiry-api holds about the resident behind the enquiries; sla-monitor must never
# put it (or anything like it) in a mail.
RESIDENT_NAME = "Margaret Thornbury"
RESIDENT_EMAIL = "margaret.thornbury@example.com"


class Inbox:
    """What a real SMTP server received, parsed as a mail client would."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.received_at: list[float] = []
        self._lock = threading.Lock()
        self.loop = asyncio.get_running_loop()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = BytesParser(policy=default_policy).parsebytes(envelope.original_content)
        with self._lock:
            self.messages.append(parsed)  # type: ignore[arg-type]
            self.received_at.append(self.loop.time())
        return "250 Message accepted for delivery"

    def about(self, needle: str) -> list[EmailMessage]:
        """The messages whose subject contains `needle`."""
        with self._lock:
            return [m for m in self.messages if needle in str(m["Subject"])]


class SmtpServer:
    """aiosmtpd on 127.0.0.1:`port`; stoppable and startable again on the same port."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    """A real SMTP server on a random port, stopped afterwards, failure or not."""
    server = SmtpServer(Inbox())
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


class ReferencedEnquiry(Enquiry):
    """An enquiry with a reference of its own (the mails name contacts by it)."""

    def __init__(self, received_at: datetime, *, area: str, channel: Channel = Channel.email):
        super().__init__(received_at, channel=channel, area=area)
        self.reference = f"ENQ-T-{uuid.uuid4().hex[:10].upper()}"

    def opened(self) -> CloudEvent:
        return EnquiryOpened.from_data(
            EnquiryOpenedData(**self._common(), reference=self.reference), source="/enquiry-api"
        )


def areas() -> tuple[str, str]:
    """Two service areas no other test uses."""
    tag = uuid.uuid4().hex[:8]
    return f"alerts_{tag}", f"elsewhere_{tag}"


@pytest.fixture
def alerting(sla_monitor, smtp: SmtpServer, issue_api_key: Callable[..., str]):
    """`async with alerting(clock, areas, group) as (server, admin)`: sla-monitor mailing to the
    test's SMTP server, with a client holding an admin key."""
    admin_key = issue_api_key("admin", name="alerts-admin")

    @contextlib.asynccontextmanager
    async def start(
        clock: FakeClock, service_areas: tuple[str, ...], group: str, **overrides: Any
    ) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
        async with (
            sla_monitor(
                clock,
                consumer_group=group,
                service_areas=list(service_areas),
                smtp_host="127.0.0.1",
                smtp_port=smtp.port,
                smtp_from="sla-monitor@council.example",
                alert_poll_seconds=0.2,
                **overrides,
            ) as (server, _),
            httpx.AsyncClient(
                base_url=server.url,
                headers={"Authorization": f"Bearer {admin_key}"},
                timeout=30,
            ) as admin,
        ):
            yield server, admin

    return start


async def caught_up(server: Any) -> None:
    """Waits until the service's consumer has read contact.events to its end."""
    consumer = server.server.config.app.state.consumer
    partitions = [TopicPartition(CONTACT_EVENTS, p) for p in range(6)]

    async def read_all() -> bool:
        return all([await consumer.lag(tp) == 0 for tp in partitions])

    await wait_until(read_all, timeout=60, what="the consumer to read contact.events")


async def wait_for_mail(smtp: SmtpServer, needle: str, *, what: str) -> None:
    """Waits until the SMTP server has received a mail whose subject contains `needle`."""

    async def arrived() -> bool:
        return bool(smtp.inbox.about(needle))

    await wait_until(arrived, timeout=30, what=what)


async def wait_for_digest_day(admin: httpx.AsyncClient, team: str, day: date) -> None:
    """Waits until the team's scheduled digest of `day` is queued."""

    async def queued() -> bool:
        response = await admin.get(f"/v1/alert-teams/{team}")
        return response.json()["last_digest_on"] == day.isoformat()

    await wait_until(queued, timeout=30, what=f"the digest of {day} to be queued")


async def mail_counter(client: httpx.AsyncClient, name: str, kind: str) -> float:
    """A mail counter's value as /metrics exposes it to Prometheus."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and sample.labels.get("kind") == kind:
                return sample.value
    return 0.0


CRM = "https://crm.council.example/case/{reference}"


async def add_officer(admin: httpx.AsyncClient, staff_id: str, name: str) -> None:
    """Puts an officer in the staff directory (mails name owners by it)."""
    response = await admin.post(
        "/v1/staff",
        json={"staff_id": staff_id, "name": name, "team": "Waste", "team_email": "w@x.example"},
    )
    assert response.status_code == 201, response.text


async def add_team(admin: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await admin.post("/v1/alert-teams", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def bodies(mail: EmailMessage) -> tuple[str, str]:
    """The plain text and the HTML of a mail."""
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def assert_no_personal_data(mail: EmailMessage) -> None:
    for part in (str(mail["Subject"]), *bodies(mail)):
        assert RESIDENT_NAME not in part and RESIDENT_EMAIL not in part
        assert "@" not in part  # no mailbox at all in what is read, only in the headers


async def count_mails(database_url: str) -> int:
    engine = create_engine(database_url, schema="sla")
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(alert_mail)))
    finally:
        await engine.dispose()


WEDNESDAY = date(2026, 6, 3)
FRIDAY = date(2026, 6, 5)


async def test_a_breach_is_mailed_once_within_five_seconds_and_not_again_after_a_restart(
    alerting, smtp: SmtpServer, producer: AIOKafkaProducer, database_url: str
) -> None:
    area, elsewhere = areas()
    group = f"sla-alerts-{uuid.uuid4().hex[:12]}"
    clock = FakeClock(london(WEDNESDAY, time(9)))
    enquiry = ReferencedEnquiry(london(WEDNESDAY, time(10)), area=area)
    unwatched = ReferencedEnquiry(london(WEDNESDAY, time(10)), area=elsewhere)
    officer = f"jsmith-{uuid.uuid4().hex[:8]}"
    async with alerting(clock, (area, elsewhere), group, contact_link_template=CRM) as (
        server,
        admin,
    ):
        # A digest time the test never reaches: the only mail is the breach's.
        await add_team(
            admin,
            name="waste-team",
            email="waste@council.example",
            service_areas=[area],
            digest_time="23:59",
        )
        await add_officer(admin, officer, "Jo Smith")
        await publish(
            producer,
            [
                enquiry.opened(),
                enquiry.assigned(london(WEDNESDAY, time(10, 30)), officer),
                unwatched.opened(),
            ],
        )
        await caught_up(server)
        # Friday 10:00: the acknowledgements (due Thursday 17:00) are overdue; replies are not.
        sent_before = await mail_counter(admin, "sla_alert_mails_sent_total", "breach")
        moved = asyncio.get_running_loop().time()
        await clock.set(london(FRIDAY, time(10)))
        await wait_for_mail(smtp, enquiry.reference, what="the breach's mail")
        [mail] = smtp.inbox.about(enquiry.reference)
        took = smtp.inbox.received_at[smtp.inbox.messages.index(mail)] - moved
        assert took < 5, f"the breach was mailed {took:.1f}s after its deadline passed"

        async def counted() -> bool:
            # The process's counter (other tests' services add too), counted once the client's
            # send returns: a moment after the server has the mail.
            sent = await mail_counter(admin, "sla_alert_mails_sent_total", "breach")
            return sent >= sent_before + 1

        await wait_until(counted, timeout=5, what="the breach mail to be counted")

    assert mail["To"] == "waste@council.example"
    assert mail["From"] == "sla-monitor@council.example"
    assert "waste-team" in mail["Subject"] and "email-acknowledge" in mail["Subject"]
    text, html = bodies(mail)
    assert enquiry.reference in text and "email-acknowledge" in text and area in text
    assert "Thu 04 Jun 2026 17:00 BST" in text
    assert enquiry.reference in html
    # The owner by the directory's name, and a link to the contact (SLA_CONTACT_LINK_TEMPLATE).
    link = CRM.format(reference=enquiry.reference)
    assert "Owner:         Jo Smith" in text and f"Open it:       {link}" in text
    assert f"<a href='{link}'>{enquiry.reference}</a></td><td>Jo Smith</td>" in html
    assert_no_personal_data(mail)
    assert len(smtp.inbox.messages) == 1  # nothing about the area the team does not cover

    # Restarted, in the same consumer group, and the contact's opening delivered again.
    async with alerting(clock, (area, elsewhere), group) as (server, _):
        await publish(producer, [enquiry.opened()])
        await caught_up(server)
        await clock.advance(timedelta(seconds=30))
        await asyncio.sleep(2)  # ten rounds of the mailer
        assert len(smtp.inbox.about(enquiry.reference)) == 1
        assert await count_mails(database_url) == 1

        # The breach queued again in a transaction of its own (a batch redelivered after a
        # crash, say): the same (notice, team) is the same mail.
        assert await queue_breach_again(database_url, enquiry, clock) == 0


async def queue_breach_again(database_url: str, enquiry: Enquiry, clock: FakeClock) -> int:
    """Queues the mails of the enquiry's acknowledgement breach again; how many were new."""
    engine = create_engine(database_url, schema="sla")
    try:
        async with transaction(create_session_factory(engine)) as session:
            [breached] = [
                c
                for c in await clocks.clocks_of(session, enquiry.id)
                if c.id == clock_id("email-acknowledge", enquiry.id, 0)
            ]
            assert breached.status == "breached"
            return await alerts.queue_breach_mails(
                session, notices=[Notice("sla.breached", breached)], now=clock.now()
            )
    finally:
        await engine.dispose()


def digest_sections(text: str) -> dict[str, set[str]]:
    """The references each section of a digest lists."""
    found: dict[str, set[str]] = {}
    current = None
    for line in text.splitlines():
        for title in ("Due today", "At risk", "Breached"):
            if line.startswith(title):
                current = title
                found[current] = set()
        if current and line.startswith("  ENQ-"):
            found[current].add(line.split()[0])
    return found


def digest_lines(text: str) -> dict[str, list[tuple[str, str, str]]]:
    """Each section's (reference, commitment, owner) lines, in the digest's order."""
    found: dict[str, list[tuple[str, str, str]]] = {}
    current = ""
    for line in text.splitlines():
        for title in ("Due today", "At risk", "Breached"):
            if line.startswith(title):
                current = title
                found[current] = []
        if current and line.startswith("  ENQ-"):
            words = line.split()
            found[current].append((words[0], words[1], words[words.index("owner") + 1]))
    return found


async def test_the_digest_lists_what_the_worklist_lists_row_for_row(
    alerting, smtp: SmtpServer, producer: AIOKafkaProducer
) -> None:
    area, other = areas()
    outside = f"outside_{uuid.uuid4().hex[:8]}"
    clock = FakeClock(london(date(2026, 5, 22), time(9)))
    letter = ReferencedEnquiry(london(date(2026, 5, 22), time(10)), area=area,
                               channel=Channel.letter)  # fmt: skip
    wednesday = ReferencedEnquiry(london(WEDNESDAY, time(10)), area=other)
    thursday = ReferencedEnquiry(london(date(2026, 6, 4), time(10)), area=area)
    friday = ReferencedEnquiry(london(FRIDAY, time(8)), area=other)
    unwatched = ReferencedEnquiry(london(WEDNESDAY, time(10)), area=outside)
    officer = f"akhan-{uuid.uuid4().hex[:8]}"
    group = f"sla-alerts-{uuid.uuid4().hex[:12]}"
    async with alerting(clock, (area, other, outside), group) as (server, admin):
        await add_team(admin, name="both-team", email="both@council.example",
                       service_areas=[area, other], digest_time="23:59")  # fmt: skip
        await add_officer(admin, officer, "Asha")
        await publish(
            producer,
            [
                *(e.opened() for e in (letter, wednesday, thursday, friday, unwatched)),
                thursday.assigned(london(date(2026, 6, 4), time(11)), officer),
            ],
        )
        await caught_up(server)
        await clock.set(london(FRIDAY, time(10)))
        await wait_for_mail(smtp, wednesday.reference, what="the breach's mail")

        async def worklist(**params: Any) -> list[dict[str, Any]]:
            query = {"service_area": [area, other], "limit": 1000, **params}
            response = await admin.get("/v1/worklist", params=query)
            assert response.status_code == 200, response.text
            return list(response.json()["items"])

        due_today = await worklist(due="today")
        urgent = await worklist(status=["at_risk", "breached"])
        assert (await admin.post("/v1/alert-teams/both-team/digest")).status_code == 202
        await wait_for_mail(smtp, "[both-team] SLA digest", what="the digest")
    [digest] = smtp.inbox.about("[both-team] SLA digest")
    text, _ = bodies(digest)
    listed = digest_lines(text)

    def line(item: dict[str, Any]) -> tuple[str, str, str]:
        return item["reference"], item["commitment"], item["assignee_name"] or "unassigned"

    rows = {i["clock_id"]: i for i in [*due_today, *urgent]}
    ordered = sorted(rows.values(), key=lambda i: (i["due_at"], i["clock_id"]))
    due_ids = {i["clock_id"] for i in due_today}
    assert listed == {
        "Breached": [line(i) for i in ordered if i["status"] == "breached"],
        "Due today": [
            line(i) for i in ordered if i["status"] != "breached" and i["clock_id"] in due_ids
        ],
        "At risk": [
            line(i) for i in ordered if i["status"] != "breached" and i["clock_id"] not in due_ids
        ],
    }
    # Not vacuous: each section has rows, across both areas, with an owner by name.
    assert all(listed.values()), listed
    assert {i["service_area"] for i in ordered} == {area, other}
    assert (thursday.reference, "email-acknowledge", "Asha") in listed["Due today"]
    assert unwatched.reference not in text


async def test_a_digest_lists_exactly_the_open_clocks_once_a_local_day_across_a_restart(
    alerting, smtp: SmtpServer, producer: AIOKafkaProducer
) -> None:
    area, elsewhere = areas()
    group = f"sla-alerts-{uuid.uuid4().hex[:12]}"
    clock = FakeClock(london(date(2026, 5, 22), time(9)))
    # A letter of 22 May: its reply is due Monday 8 June, at risk from Thursday 4 June 11:15.
    at_risk = ReferencedEnquiry(
        london(date(2026, 5, 22), time(10)), area=area, channel=Channel.letter
    )
    # Wednesday's email: its acknowledgement breached Thursday 17:00, its reply due Monday.
    breached = ReferencedEnquiry(london(WEDNESDAY, time(10)), area=area)
    # Thursday's email: its acknowledgement is due Friday 17:00.
    due_today = ReferencedEnquiry(london(date(2026, 6, 4), time(10)), area=area)
    answered = ReferencedEnquiry(london(WEDNESDAY, time(10)), area=area)
    unwatched = ReferencedEnquiry(london(WEDNESDAY, time(10)), area=elsewhere)
    async with alerting(clock, (area, elsewhere), group) as (server, admin):
        await add_team(admin, name="waste-team", email="waste@council.example",
                       service_areas=[area], digest_time="10:00")  # fmt: skip
        await publish(
            producer,
            [
                *(e.opened() for e in (at_risk, breached, due_today, answered, unwatched)),
                answered.acknowledged(london(WEDNESDAY, time(11))),
                answered.responded(london(WEDNESDAY, time(12))),
            ],
        )
        await caught_up(server)
        # A minute before the digest: the overdue acknowledgements are flagged first.
        await clock.set(london(FRIDAY, time(9, 59)))
        await wait_for_mail(smtp, breached.reference, what="the breach's mail")
        failed_before = await mail_counter(admin, "sla_alert_mails_failed_total", "digest")
        # The SMTP server goes away just as the digest falls due: queued, its send fails.
        await asyncio.to_thread(smtp.stop)
        await clock.set(london(FRIDAY, time(10)))
        await wait_for_digest_day(admin, "waste-team", FRIDAY)
        await asyncio.sleep(1)  # a failed try or more
        assert await mail_counter(admin, "sla_alert_mails_failed_total", "digest") > failed_before
        assert not smtp.inbox.about("SLA digest")

    # Restarted with the server back: the queued digest goes once, and no second is queued.
    await asyncio.to_thread(smtp.start)
    async with alerting(clock, (area, elsewhere), group):
        await clock.advance(timedelta(minutes=10))  # past the retry's back-off
        await wait_for_mail(smtp, "SLA digest", what="the digest's mail")
        await clock.advance(timedelta(hours=5))
        await asyncio.sleep(2)
        [digest] = smtp.inbox.about("SLA digest")
        assert_friday_digest(
            digest, due_today=due_today, at_risk=at_risk, breached=breached,
            absent=(answered, unwatched),
        )  # fmt: skip

        # The next local day's digest comes at its time, once.
        await clock.set(london(date(2026, 6, 6), time(10)))

        await wait_for_mail(smtp, "SLA digest Sat 06 Jun 2026", what="Saturday's digest")
        await asyncio.sleep(1)
        assert len(smtp.inbox.about("SLA digest")) == 2
    assert len(smtp.inbox.about(breached.reference)) == 1


def assert_friday_digest(
    digest: EmailMessage,
    *,
    due_today: ReferencedEnquiry,
    at_risk: ReferencedEnquiry,
    breached: ReferencedEnquiry,
    absent: tuple[ReferencedEnquiry, ...],
) -> None:
    """Friday's digest lists each expected clock in its section and nothing else."""
    assert digest["Subject"] == (
        "[waste-team] SLA digest Fri 05 Jun 2026: 1 due today, 1 at risk, 1 breached"
    )
    text, html = bodies(digest)
    assert digest_sections(text) == {
        "Due today": {due_today.reference},
        "At risk": {at_risk.reference},
        "Breached": {breached.reference},
    }
    for other in absent:
        assert other.reference not in text and other.reference not in html
    assert "Fri 05 Jun 2026 17:00 BST" in text
    assert_no_personal_data(digest)


runner = CliRunner()


async def contactctl_run(*args: str, url: str, key: str) -> Any:
    """contactctl in a thread (it makes blocking requests to the service on this loop)."""
    return await asyncio.to_thread(
        runner.invoke,
        contactctl,
        [*args, "--sla-url", url, "--api-key", key],
        env={"COLUMNS": "250"},
    )


async def test_teams_are_managed_by_admins_and_contactctl_and_a_digest_sent_by_hand(
    alerting, smtp: SmtpServer, issue_api_key: Callable[..., str]
) -> None:
    area, elsewhere = areas()
    # Before the team's digest time (07:30, then 08:00): the only digest is the one sent by hand.
    clock = FakeClock(london(WEDNESDAY, time(7)))
    reader = issue_api_key("sla:read", name="reader")
    async with alerting(clock, (area, elsewhere), f"sla-alerts-{uuid.uuid4().hex[:12]}") as (
        server,
        admin,
    ):
        key = admin.headers["Authorization"].removeprefix("Bearer ")
        added = await contactctl_run(
            "alerts", "teams", "add", "parking-team", "--email", "parking@council.example",
            "--service-area", area, "--service-area", elsewhere, "--digest-time", "07:30",
            url=server.url, key=key,
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        listed = await contactctl_run("alerts", "teams", "list", url=server.url, key=key)
        assert "parking-team" in listed.output and "07:30 Europe/London" in listed.output

        team = (await admin.get("/v1/alert-teams/parking-team")).json()
        assert team["service_areas"] == [area, elsewhere] and team["enabled"] is True
        changed = await admin.put(
            "/v1/alert-teams/parking-team",
            json={"email": "parking2@council.example", "service_areas": [area], "enabled": False},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["email"] == "parking2@council.example"
        assert changed.json()["digest_time"] == "08:00:00"

        sent = await contactctl_run(
            "alerts", "send-digest", "--team", "parking-team", url=server.url, key=key
        )
        assert sent.exit_code == 0, sent.output

        await wait_for_mail(smtp, "[parking-team] SLA digest", what="the manual digest")
        [digest] = smtp.inbox.about("[parking-team] SLA digest")
        assert digest["To"] == "parking2@council.example"
        assert "0 due today, 0 at risk, 0 breached" in digest["Subject"]

        removed = await contactctl_run(
            "alerts", "teams", "remove", "parking-team", url=server.url, key=key
        )
        assert removed.exit_code == 0, removed.output
        assert (await admin.get("/v1/alert-teams")).json() == []
        missing = await contactctl_run(
            "alerts", "teams", "remove", "parking-team", url=server.url, key=key
        )
        assert missing.exit_code == 1 and "no alert team is called" in missing.output

        await assert_refusals(admin, server.url, reader, area)


async def assert_refusals(admin: httpx.AsyncClient, url: str, reader: str, area: str) -> None:
    """Bad input is a problem document naming what is wrong; a reader may not manage teams."""
    good = {"name": "t", "email": "t@council.example", "service_areas": [area]}
    cases = [
        ({**good, "service_areas": ["nowhere"]}, 422, "nowhere"),
        ({**good, "timezone": "Mars/Olympus"}, 422, "Mars/Olympus"),
        ({**good, "email": "not-a-mailbox"}, 422, "body.email"),
        ({**good, "digest_time": "25:00"}, 422, "body.digest_time"),
        ({**good, "service_areas": []}, 422, "body.service_areas"),
        ({**good, "name": "Has Spaces"}, 422, "body.name"),
    ]
    for body, status, named in cases:
        response = await admin.post("/v1/alert-teams", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert named in response.text, response.text
    assert (await admin.post("/v1/alert-teams", json=good)).status_code == 201
    again = await admin.post("/v1/alert-teams", json=good)
    assert again.status_code == 409 and "exists already" in again.json()["detail"]
    assert (await admin.get("/v1/alert-teams/nobody")).status_code == 404
    assert (await admin.post("/v1/alert-teams/nobody/digest")).status_code == 404
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {reader}"}
    ) as client:
        assert (await client.get("/v1/alert-teams")).status_code == 403


async def test_with_no_smtp_host_there_is_no_mailer_and_a_manual_digest_is_refused(
    sla_monitor, issue_api_key: Callable[..., str]
) -> None:
    area, _ = areas()
    admin_key = issue_api_key("admin", name="alerts-admin")
    async with (
        sla_monitor(FakeClock(london(WEDNESDAY, time(9))), service_areas=[area]) as (server, _),
        httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {admin_key}"}
        ) as admin,
    ):
        app = server.server.config.app
        assert not any(type(w).__name__ == "AlertMailer" for w in app.state.runtime.workers)
        await add_team(admin, name="quiet", email="quiet@council.example", service_areas=[area])
        refused = await admin.post("/v1/alert-teams/quiet/digest")
        assert refused.status_code == 409
        assert "SLA_SMTP_HOST" in refused.json()["detail"]
        assert (await admin.post("/v1/alert-teams/nobody/digest")).status_code == 404
