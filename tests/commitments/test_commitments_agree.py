"""complaints-api's due dates, sla-monitor's clocks and metrics-api's SLA figures agree with each
other and with an independent calculation (oracle.py), live and after a replay, under both
shipped policies.

Hypothesis draws histories of enquiries and complaints: every step dated in the past (so every
deadline has gone by and the timer flags each clock left running), steps recorded late, some
after the timer has flagged the clock they decide (the test waits for the flag first), a
complaint's extension agreed before its acknowledgement but recorded after it, escalations,
reopenings, extensions the policy refuses (too long, or after the deadline), receipts
corrected at any point of an enquiry's history and contacts voided (their clocks cancelled,
counted nowhere). The four services run on a real port each, on PostgreSQL and a broker of
this test's own, in the test's event loop; Hypothesis runs its examples in a worker thread,
which hands each example to that loop. After the examples sla-monitor is stopped, its clocks
are replayed from contact.events and checked again, and a metrics-api built afresh from both
topics (on SQLite) must publish the same figures as the live one.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from complaints_api.config import Settings as ComplaintsSettings
from complaints_api.main import create_app as complaints_app
from contact_common.bus.kafka import ensure_topics
from contact_devtools.broker import DevBroker
from contact_devtools.testing import LiveServer, running_service
from enquiry_api.config import Settings as EnquirySettings
from enquiry_api.main import create_app as enquiry_app
from metrics_api.config import Settings as MetricsSettings
from metrics_api.main import create_app as metrics_app
from sla_monitor.config import Settings as SlaSettings
from sla_monitor.main import create_app as sla_app
from sla_monitor.replay import replay
from sla_monitor.timekeeping import SystemClock

sys.path.insert(0, str(Path(__file__).parent))
from oracle import LONDON, ComplaintHistory, EnquiryHistory, Stage  # noqa: E402

pytestmark = pytest.mark.e2e

POLICIES = ["default", "complaint-handling-code-2024"]
EXAMPLES = 6
AREAS = [f"property_{n:02d}" for n in range(EXAMPLES * 4)]
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Long enough that every deadline of a history (its steps span at most ~90 days, and the latest
# deadline is 40 working days after a step) has passed when it is recorded.
HISTORY_STARTS_DAYS_AGO = 200


# -- the histories Hypothesis draws -------------------------------------------------------------


@dataclass
class Record:
    """One POST, in the order it is recorded; `pause` waits for the timer's flags first."""

    path: str
    body: dict[str, Any]
    pause: bool = False


@dataclass
class Contact:
    kind: str  # enquiry or complaint
    channel: str
    received_at: datetime
    records: list[Record]
    id: str | None = None
    enquiry: EnquiryHistory | None = None
    complaint: ComplaintHistory | None = None


def _at(value: datetime) -> str:
    return value.isoformat()


@st.composite
def enquiries(draw: st.DrawFn, start: datetime) -> Contact:
    channel = draw(st.sampled_from(["email", "email", "letter", "voicemail", "portal"]))
    received_at = start + timedelta(minutes=draw(st.integers(0, 60 * 24 * 14)))
    history = EnquiryHistory(channel, received_at)
    records: list[Record] = []
    status, acknowledged, at = "open", False, received_at
    for _ in range(draw(st.integers(0, 5))):
        allowed = {
            "open": ["acknowledge", "respond", "resolve"],
            "acknowledged": ["respond", "resolve"],
            "responded": ["resolve"],
            "resolved": ["reopen"],
            "reopened": ["respond", "resolve"] + ([] if acknowledged else ["acknowledge"]),
        }[status]
        action = draw(st.sampled_from(allowed))
        at += timedelta(minutes=draw(st.integers(0, 60 * 24 * 6)))
        body: dict[str, Any] = {"at": _at(at)}
        if action == "resolve":
            body["first_point"] = False
        records.append(Record(action, body, pause=draw(st.booleans())))
        history.steps.append((action, at))
        acknowledged = acknowledged or action in ("acknowledge", "respond", "resolve")
        status = {
            "acknowledge": "acknowledged",
            "respond": "responded",
            "resolve": "resolved",
            "reopen": "reopened",
        }[action]
        if action == "reopen":
            acknowledged = True  # the reopened enquiry was acknowledged before
    if draw(st.booleans()):
        # Its receipt corrected, at any point of its history: earlier, so never after a step.
        corrected = received_at - timedelta(minutes=draw(st.integers(1, 60 * 24 * 4)))
        body = {"received_at": _at(corrected), "reason": "Keyed from the wrong date stamp"}
        position = draw(st.integers(0, len(records)))
        records.insert(position, Record("correct", body, pause=draw(st.booleans())))
        history.received_at = corrected
    _maybe_void(draw, records, history)
    return Contact("enquiry", channel, received_at, records, enquiry=history)


def _maybe_void(
    draw: st.DrawFn, records: list[Record], history: EnquiryHistory | ComplaintHistory
) -> None:
    """Now and then, the contact voided after its history: every clock of it cancelled."""
    if draw(st.integers(0, 3)) == 0:
        body = {"reason_code": "test", "reason": "Entered while training"}
        records.append(Record("void", body, pause=draw(st.booleans())))
        history.voided = True


@st.composite
def stages(
    draw: st.DrawFn, history: ComplaintHistory, stage: Stage, records: list[Record]
) -> datetime | None:
    """One stage's records: acknowledgement, an extension, a response; the response's time."""
    acknowledged_at = stage.started_at + timedelta(minutes=draw(st.integers(0, 60 * 24 * 7)))
    acknowledges = draw(st.booleans()) or stage.number == 1
    extension = None
    if draw(st.booleans()):
        # Agreed before the acknowledgement (under the Code: before its clock starts) or after.
        before = draw(st.booleans()) and acknowledges
        base = stage.started_at if before else acknowledged_at
        span = (acknowledged_at - stage.started_at) if before else 20 * DAY
        agreed_at = base + span * draw(st.floats(0, 1))
        limit = history.extension_limit(stage)
        working_days = draw(st.integers(1, limit + 2))
        extension = (agreed_at, working_days)
    ack_record = Record(
        "acknowledge", {"officer": f"officer-{stage.number}", "at": _at(acknowledged_at)}
    )
    if acknowledges:
        records.append(ack_record)
        stage.acknowledged_at = acknowledged_at
    if extension is not None:
        agreed_at, working_days = extension
        body = {"working_days": working_days, "reason": "Awaiting a report", "at": _at(agreed_at)}
        accepted = history.extension_allowed(stage, agreed_at, working_days)
        # Recorded after the acknowledgement, maybe after the timer has flagged the breach.
        records.append(Record("extend", {**body, "_accepted": accepted}, pause=draw(st.booleans())))
        if accepted:
            stage.extension = extension
    if not acknowledges or not draw(st.booleans()):
        return None
    responded_at = acknowledged_at + timedelta(minutes=draw(st.integers(1, 60 * 24 * 25)))
    stage.responded_at = responded_at
    records.append(
        Record(
            "respond",
            {
                "officer": f"officer-{stage.number}",
                "outcome": "not_upheld",
                "summary": "No fault found",
                "at": _at(responded_at),
            },
            pause=draw(st.booleans()),
        )
    )
    return responded_at


@st.composite
def complaints(draw: st.DrawFn, start: datetime, policy: str) -> Contact:
    channel = draw(st.sampled_from(["email", "phone", "letter", "web_form"]))
    received_at = start + timedelta(minutes=draw(st.integers(0, 60 * 24 * 14)))
    history = ComplaintHistory(policy)
    records: list[Record] = []
    stage_1 = Stage(1, received_at)
    history.stages.append(stage_1)
    responded_at = draw(stages(history, stage_1, records))
    if responded_at is not None and draw(st.booleans()):
        escalated_at = responded_at + timedelta(minutes=draw(st.integers(0, 60 * 24 * 10)))
        records.append(Record("escalate", {"reason": "Disagree", "at": _at(escalated_at)}))
        stage_2 = Stage(2, escalated_at)
        history.stages.append(stage_2)
        draw(stages(history, stage_2, records))
    _maybe_void(draw, records, history)
    return Contact("complaint", channel, received_at, records, complaint=history)


@st.composite
def examples(draw: st.DrawFn, policy: str) -> list[Contact]:
    start = (datetime.now(UTC) - timedelta(days=HISTORY_STARTS_DAYS_AGO)).replace(microsecond=0)
    contacts = draw(
        st.lists(st.one_of(enquiries(start), complaints(start, policy)), min_size=1, max_size=4)
    )
    return contacts


# -- the system ----------------------------------------------------------------------------------


@dataclass
class System:
    policy: str
    database_url: str
    broker: str
    token: str
    work_dir: Path
    servers: dict[str, LiveServer] = field(default_factory=dict)
    areas: list[str] = field(default_factory=lambda: list(AREAS))
    played: list[tuple[str, list[Contact]]] = field(default_factory=list)

    def client(self, name: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.servers[name].url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )

    # -- recording ---------------------------------------------------------------------------

    async def play(self, contacts: list[Contact]) -> None:
        """Records one example's contacts, interleaved, then checks the three services agree."""
        area = self.areas.pop()
        async with self.client("enquiry-api") as enquiry, self.client("complaints-api") as cmp:
            for contact in contacts:
                await self._create(contact, area, enquiry, cmp)
            streams = [(c, list(c.records)) for c in contacts]
            while any(records for _, records in streams):
                for contact, records in streams:
                    if records:
                        await self._record(contact, records.pop(0), enquiry, cmp)
        self.played.append((area, contacts))
        await self.agree(area, contacts, metrics="metrics-api")

    async def _create(
        self, contact: Contact, area: str, enquiry: httpx.AsyncClient, cmp: httpx.AsyncClient
    ) -> None:
        body = {
            "channel": contact.channel,
            "service_area": area,
            "received_at": _at(contact.received_at),
            "description": "A property-test contact",
        }
        client, path = (
            (enquiry, "/v1/enquiries")
            if contact.kind == "enquiry"
            else (
                cmp,
                "/v1/complaints",
            )
        )
        response = await client.post(path, json=body)
        assert response.status_code == 201, response.text
        contact.id = response.json()["id"]

    async def _record(
        self,
        contact: Contact,
        record: Record,
        enquiry: httpx.AsyncClient,
        cmp: httpx.AsyncClient,
    ) -> None:
        if record.pause:
            await self.flagged(contact)
        body = {k: v for k, v in record.body.items() if not k.startswith("_")}
        if contact.kind == "enquiry":
            url = f"/v1/enquiries/{contact.id}"
            if record.path == "correct":
                response = await enquiry.patch(url, json=body)
            else:
                response = await enquiry.post(f"{url}/{record.path}", json=body)
            assert response.status_code == 200, response.text
            return
        response = await cmp.post(f"/v1/complaints/{contact.id}/{record.path}", json=body)
        if record.path != "extend":
            assert response.status_code == 200, response.text
            return
        # The oracle says whether the policy takes this extension; complaints-api must agree.
        if record.body["_accepted"]:
            assert response.status_code == 200, response.text
        else:
            assert response.status_code in (409, 422), response.text
            problem = response.json()["type"].rsplit("/", 1)[-1]
            assert problem in ("deadline-passed", "validation"), response.text

    async def flagged(self, contact: Contact, timeout: float = 60) -> None:
        """Waits until sla-monitor has seen the contact and flagged every clock overdue."""
        async with self.client("sla-monitor") as sla:
            deadline = asyncio.get_running_loop().time() + timeout
            while asyncio.get_running_loop().time() < deadline:
                items = (await sla.get("/v1/clocks", params={"subject": contact.id})).json()
                if items and all(c["status"] != "pending" for c in items):
                    return
                if not items and not _expected_clocks(contact):
                    return
                await asyncio.sleep(0.1)
        raise AssertionError(f"sla-monitor never flagged the clocks of {contact.id}")

    # -- checking ------------------------------------------------------------------------------

    async def agree(
        self, area: str, contacts: Sequence[Contact], *, metrics: str, timeout: float = 90
    ) -> None:
        """The three services agree with the oracle (waiting for the consumers to catch up)."""
        await self._due_dates_agree(contacts)
        expected_clocks = {c.id: _expected_clocks(c) for c in contacts}
        expected_figures = _expected_figures(contacts)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            clocks = {c.id: await self.clocks_of(c) for c in contacts}
            figures = await self.figures(area, contacts, metrics)
            if (clocks, figures) == (expected_clocks, expected_figures) or loop.time() > deadline:
                break
            await asyncio.sleep(0.25)
        histories = [(c.kind, c.channel, c.received_at, c.records) for c in contacts]
        assert clocks == expected_clocks, histories
        assert figures == expected_figures, histories

    async def _due_dates_agree(self, contacts: Sequence[Contact]) -> None:
        async with self.client("complaints-api") as cmp:
            for contact in contacts:
                if contact.complaint is None:
                    continue
                detail = (await cmp.get(f"/v1/complaints/{contact.id}")).json()
                shown = [
                    (_instant(s["acknowledge_due_at"]), _instant(s["due_at"]))
                    for s in detail["stages"]
                ]
                history = contact.complaint
                expected = [
                    (history.acknowledge_due(stage), history.response_due(stage))
                    for stage in history.stages
                ]
                assert shown == expected, (contact.records, detail["stages"])

    async def clocks_of(self, contact: Contact) -> list[tuple[Any, ...]]:
        async with self.client("sla-monitor") as sla:
            items = (await sla.get("/v1/clocks", params={"subject": contact.id})).json()
        return sorted(
            (
                c["commitment"],
                c["sequence"],
                _instant(c["due_at"]),
                c["status"],
                _instant(c["stopped_at"]),
                _instant(c["breached_at"]),
            )
            for c in items
        )

    async def figures(
        self, area: str, contacts: Sequence[Contact], metrics: str
    ) -> dict[tuple[str, str], tuple[int, int]]:
        """Met and breached per commitment and month of the deadline (the area is the example's)."""
        # The earliest receipt, corrected or not: no deadline falls before it.
        first = (
            min(
                min(c.received_at, c.enquiry.received_at if c.enquiry else c.received_at)
                for c in contacts
            ).date()
            - DAY
        )
        async with self.client(metrics) as client:
            answer = await client.get(
                "/v1/sla/compliance",
                params={
                    "service_area": area,
                    "from": str(first),
                    "to": str(_today() + DAY),
                    "interval": "month",
                },
            )
        assert answer.status_code == 200, answer.text
        return {
            (row["start"][:7], row["commitment"]): (row["met"], row["breached"])
            for row in answer.json()["rows"]
            if row["met"] or row["breached"]
        }


def _today() -> date:
    return datetime.now(UTC).date()


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def _expected_clocks(contact: Contact) -> list[tuple[Any, ...]]:
    history = contact.enquiry or contact.complaint
    assert history is not None
    return sorted(
        (
            c.commitment,
            c.sequence,
            c.due_at,
            c.status,
            c.stopped_at,
            c.due_at if c.status == "breached" else None,
        )
        for c in history.clocks()
    )


def _expected_figures(contacts: Sequence[Contact]) -> dict[tuple[str, str], tuple[int, int]]:
    """Met and breached per commitment (and all) and local month of the deadline."""
    counts: dict[tuple[str, str], list[int]] = {}
    for contact in contacts:
        for commitment, _sequence, due, status, _stopped, _breached in _expected_clocks(contact):
            if status == "cancelled":
                continue  # a voided contact's clocks count nowhere
            month = due.astimezone(LONDON).strftime("%Y-%m")
            for key in ((month, commitment), (month, "all")):
                row = counts.setdefault(key, [0, 0])
                row[0 if status == "met" else 1] += 1
    return {key: (met, breached) for key, (met, breached) in counts.items()}


@contextlib.asynccontextmanager
async def _service(
    system: System,
    name: str,
    factory: Callable[..., Any],
    settings_class: type,
    *,
    service: str | None = None,
    **overrides: Any,
) -> AsyncIterator[LiveServer]:
    """A service on a real port, under the system's policy; `name` is how the test calls it."""
    async with running_service(
        factory,
        settings_class,
        service=service or name,
        database_url=overrides.pop("database_url", system.database_url),
        kafka_bootstrap=system.broker,
        api_keys_file=system.work_dir / "api-keys.json",
        policy=system.policy,
        **overrides,
    ) as server:
        system.servers[name] = server
        yield server


@pytest.fixture
async def private_broker(tmp_path: Path) -> AsyncIterator[str]:
    """A broker of this test's own: a replay reads contact.events from its first event."""
    broker = DevBroker(log_path=tmp_path / "broker.log").start()
    try:
        await ensure_topics(broker.bootstrap_servers, partitions=3)
        yield broker.bootstrap_servers
    finally:
        broker.stop()


# The services run in the main thread while Hypothesis draws in a worker: their own use of the
# random module (the broker client's jitter) is not the strategies', whatever Hypothesis infers.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
@pytest.mark.parametrize("policy", POLICIES)
async def test_due_dates_clocks_and_figures_agree_live_and_after_replay(
    policy: str,
    database_url: str,
    private_broker: str,
    tmp_path: Path,
    issue_api_key: Callable[..., str],
) -> None:
    system = System(
        policy=policy,
        database_url=database_url,
        broker=private_broker,
        token=issue_api_key("admin", name="property-test"),
        work_dir=tmp_path,
    )
    group = f"property-{uuid.uuid4().hex[:8]}"
    async with contextlib.AsyncExitStack() as stack:
        for name, factory, settings_class, extra in (
            ("enquiry-api", enquiry_app, EnquirySettings, {"service_areas": AREAS}),
            ("complaints-api", complaints_app, ComplaintsSettings, {"service_areas": AREAS}),
            ("metrics-api", metrics_app, MetricsSettings, {"consumer_group": f"{group}-m"}),
        ):
            await stack.enter_async_context(
                _service(system, name, factory, settings_class, **extra)
            )
        sla = _service(system, "sla-monitor", sla_app, SlaSettings, consumer_group=f"{group}-s")
        await sla.__aenter__()
        loop = asyncio.get_running_loop()

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: each example takes seconds
            suppress_health_check=list(HealthCheck),
        )
        @given(contacts=examples(policy))
        def each_example(contacts: list[Contact]) -> None:
            asyncio.run_coroutine_threadsafe(system.play(contacts), loop).result(timeout=600)

        try:
            await asyncio.to_thread(each_example)
        finally:
            await sla.__aexit__(None, None, None)

        # A restore: sla-monitor's clocks rebuilt from contact.events alone...
        sla_settings = SlaSettings(
            database_url=database_url,
            kafka_bootstrap_servers=private_broker,
            policy=policy,
            consumer_group=f"{group}-s",
            log_json=False,
        )
        summary = await replay(sla_settings, clock=SystemClock())
        assert summary.undecodable == 0
        # ...and a metrics-api built afresh from both topics, on the embedded database.
        fresh = f"sqlite+aiosqlite:///{tmp_path / 'metrics-rebuilt.db'}"
        await stack.enter_async_context(
            _service(
                system,
                "sla-monitor",
                sla_app,
                SlaSettings,
                consumer_group=f"{group}-s",
            )
        )
        await stack.enter_async_context(
            _service(
                system,
                "metrics-rebuilt",
                metrics_app,
                MetricsSettings,
                service="metrics-api",
                database_url=fresh,
                consumer_group=f"{group}-rebuilt",
            )
        )
        for area, contacts in system.played:
            await system.agree(area, contacts, metrics="metrics-rebuilt")
            await system.agree(area, contacts, metrics="metrics-api")
