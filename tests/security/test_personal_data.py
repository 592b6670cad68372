"""No personal data in events or logs (issue 7, DESIGN.md: events carry ids, never people).

Runs last in the session (`runs_last`), so it reads what every other test left: each event on the
session broker's platform topics from the beginning and on every dead-letter topic, and each line
of test-artifacts/session.log (all the session's logs) and test-artifacts/**/*.log. Before that
it drives its own contacts through all four services with realistic personal data (names, email
addresses, UK telephone numbers, street addresses, postcodes, and free text that repeats them as
residents do), with every service logging at DEBUG, so the scan never passes on an empty session.

A hit is any email address, UK telephone number or postcode the patterns find, or any exact value
this test submitted. Bytes that no service wrote (a test's poison message, which does not decode
as an event, and its dead letter) are scanned for their key and headers only. The counts of
events and lines read are in the security suite's summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import create_async_engine

from complaints_api.config import Settings as ComplaintsSettings
from complaints_api.main import create_app as complaints_app
from contact_common.bus.kafka import ALL_TOPICS
from contact_common.bus.topics import CONTACT_EVENTS, DEAD_LETTER_SUFFIX
from contact_common.events import decode_event
from contact_devtools.testing import ARTIFACTS, LiveServer, running_service
from enquiry_api.config import Settings as EnquirySettings
from enquiry_api.main import create_app as enquiry_app
from metrics_api.config import Settings as MetricsSettings
from metrics_api.main import create_app as metrics_app
from sla_monitor.config import Settings as SlaSettings
from sla_monitor.main import create_app as sla_app

pytestmark = pytest.mark.runs_last


@dataclass(frozen=True)
class Person:
    """A resident, as the council's systems would hold them (fictional; Ofcom drama numbers)."""

    name: str
    email: str
    phone: str
    street: str
    town: str
    postcode: str
    uprn: str

    @property
    def address(self) -> str:
        return f"{self.street}, {self.town} {self.postcode}"


MARGARET = Person(
    "Margaret Thistlewood",
    "m.thistlewood@btinternet.com",
    "07700 900461",
    "14 Larch Grove",
    "Stamford",
    "PE9 2XL",
    "100031234567",
)
SEUN = Person(
    "Oluwaseun Adeyemi",
    "seun.adeyemi@gmail.com",
    "+44 20 7946 0958",
    "Flat 3, 27 Mill Lane",
    "London",
    "E8 3PQ",
    "200004567891",
)
SIOBHAN = Person(
    "Siobhán O'Connor",
    "siobhan.oconnor@outlook.com",
    "0161 496 0734",
    "5 Ashworth Close",
    "Bury",
    "BL9 7RT",
    "300007654321",
)
PEOPLE = (MARGARET, SEUN, SIOBHAN)

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# +44 or 0, then nine or ten more digits, spaced or hyphenated as people write them; not inside a
# longer number, a decimal, a date or an id.
UK_PHONE = re.compile(r"(?<![\w.+:/-])(?:\+44\s?(?:\(0\)\s?)?|0)\d(?:[\s-]?\d){8,9}(?![\w.:-])")
POSTCODE = re.compile(r"\b(?:[A-Z]{1,2}\d[A-Z\d]?|GIR) ?\d[ABD-HJLNP-UW-Z]{2}\b")
PATTERNS = {"email address": EMAIL, "UK telephone number": UK_PHONE, "postcode": POSTCODE}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def submitted_values(free_text: Iterable[str]) -> dict[str, str]:
    """Every personal value this test sends, as it may be written: value -> what it is."""
    values: dict[str, str] = {}
    for person in PEOPLE:
        values[person.name] = "a name"
        for part in re.split(r"[\s']+", person.name):
            if len(part) > 3:
                values[part] = "a name"
        values[person.email] = "an email address"
        values[person.phone] = "a telephone number"
        values[_digits(person.phone)] = "a telephone number"
        values[_digits(person.phone)[-10:]] = "a telephone number"
        values[person.street] = "a street address"
        values[person.postcode] = "a postcode"
        values[person.postcode.replace(" ", "")] = "a postcode"
        values[person.uprn] = "a property reference"
    for words in free_text:
        values[words] = "a resident's or officer's words"
    return values


@dataclass
class Hit:
    """Personal data found somewhere it must not be."""

    where: str
    what: str
    excerpt: str


def scan(where: str, content: str, values: dict[str, str]) -> list[Hit]:
    """Personal data in `content`: what the patterns match and the values submitted."""
    hits = []
    for what, pattern in PATTERNS.items():
        for match in pattern.finditer(content):
            hits.append(Hit(where, what, _excerpt(content, match.start(), match.end())))
    folded = content.casefold()
    for value, what in values.items():
        at = folded.find(value.casefold())
        if at >= 0:
            hits.append(Hit(where, f"{what} submitted", _excerpt(content, at, at + len(value))))
    return hits


def _excerpt(content: str, start: int, end: int) -> str:
    return content[max(start - 80, 0) : end + 80].replace("\n", "\\n")


def _readable(raw: bytes | None) -> str:
    """A message's bytes as text, JSON unescaped so that 'Siobh\\u00e1n' reads as 'Siobhán'."""
    if not raw:
        return ""
    text_ = raw.decode("utf-8", errors="replace")
    try:
        return json.dumps(json.loads(text_), ensure_ascii=False)
    except ValueError:
        return text_


# -- reading what the session left -----------------------------------------------------------


@dataclass
class Record:
    """One message on the broker."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    event_id: uuid.UUID | None
    subject: str | None

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


async def read_every_event(bootstrap: str, *, timeout: float = 120.0) -> list[Record]:
    """Every message on the platform topics and every dead-letter topic, from the beginning."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
    )
    await consumer.start()
    try:
        topics = set(ALL_TOPICS) | {t for t in await consumer.topics() if t.endswith(".dlq")}
        assert all(t.endswith(DEAD_LETTER_SUFFIX) for t in topics - set(ALL_TOPICS))
        partitions = [
            TopicPartition(topic, partition)
            for topic in sorted(topics)
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[Record] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        # The end is the high watermark of a fetch (tansu's ListOffsets end is a batch's start).
        while behind := [
            tp
            for tp in partitions
            if consumer.highwater(tp) is None
            or await consumer.position(tp) < (consumer.highwater(tp) or 0)
        ]:
            assert loop.time() < deadline, f"could not read {behind} to the end in {timeout} s"
            batches = await consumer.getmany(*behind, timeout_ms=500, max_records=5000)
            for tp, messages in batches.items():
                for message in messages:
                    event = _decoded(message.value)
                    records.append(
                        Record(
                            tp.topic,
                            tp.partition,
                            message.offset,
                            message.key,
                            message.value,
                            {k: _readable(v) for k, v in message.headers or ()},
                            event.id if event else None,
                            event.subject if event else None,
                        )
                    )
        return records
    finally:
        await consumer.stop()


def foreign(record: Record, by_place: dict[tuple[str, int, int], Record]) -> bool:
    """True for bytes no service of the platform wrote: a test's poison, or its dead letter.

    The platform's producers write events from its models, which decode. What does not decode
    on a platform topic was put there by a test (libs/common's consumer tests publish poison,
    some of it personal data on purpose); its dead letter carries the same bytes, with headers
    the consumer wrote, which are scanned all the same.
    """
    if record.topic.endswith(DEAD_LETTER_SUFFIX):
        place = (
            record.headers.get("dlq.topic", ""),
            int(record.headers.get("dlq.partition") or -1),
            int(record.headers.get("dlq.offset") or -1),
        )
        origin = by_place.get(place)
        return origin is not None and origin.value == record.value and foreign(origin, by_place)
    return record.event_id is None


def record_text(record: Record, *, value: bool) -> str:
    """What a record says: key, headers and (unless foreign) value, JSON unescaped."""
    parts = [_readable(record.key), *(f"{k}={v}" for k, v in record.headers.items())]
    return " ".join([*parts, _readable(record.value)] if value else parts)


def _decoded(value: bytes | None) -> Any:
    # Undecodable bytes are read all the same: the scan decides what they are (foreign).
    with contextlib.suppress(Exception):
        return decode_event(value)
    return None


def log_files(session_log: Path) -> list[Path]:
    """The session's log and every other log the tests left in test-artifacts."""
    return [session_log, *sorted(p for p in ARTIFACTS.rglob("*.log") if p != session_log)]


def log_lines(path: Path) -> Iterator[str]:
    """The lines of a log, colours removed and JSON lines unescaped."""
    with path.open(encoding="utf-8", errors="replace") as stream:
        for line in stream:
            line = ANSI.sub("", line.rstrip("\n"))
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    line = json.dumps(json.loads(line), ensure_ascii=False)
            yield line


def _all_lines(path: Path) -> list[str]:
    return list(log_lines(path))


def _read_from(path: Path, offset: int) -> str:
    with path.open(encoding="utf-8", errors="replace") as stream:
        stream.seek(offset)
        return stream.read()


# -- the scenario ------------------------------------------------------------------------------


@dataclass
class Platform:
    """The four services on real ports, on one database (a schema each), with an admin key."""

    enquiry: httpx.AsyncClient
    complaints: httpx.AsyncClient
    sla: httpx.AsyncClient
    metrics: httpx.AsyncClient
    token: str


@contextlib.asynccontextmanager
async def platform(
    database_url: str, kafka_bootstrap: str, api_keys_file: Path, token: str
) -> AsyncIterator[Platform]:
    """All four services, logging at DEBUG; the consumers in groups of their own."""
    group = uuid.uuid4().hex[:12]
    common = {
        "database_url": database_url,
        "kafka_bootstrap": kafka_bootstrap,
        "api_keys_file": api_keys_file,
        "log_level": "DEBUG",
    }
    headers = {"Authorization": f"Bearer {token}"}

    def client(server: LiveServer) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30)

    async with (
        running_service(enquiry_app, EnquirySettings, service="enquiry-api", **common) as enq,
        running_service(
            complaints_app, ComplaintsSettings, service="complaints-api", **common
        ) as cmp,
        running_service(
            sla_app, SlaSettings, service="sla-monitor", consumer_group=f"pii-sla-{group}", **common
        ) as sla,
        running_service(
            metrics_app,
            MetricsSettings,
            service="metrics-api",
            consumer_group=f"pii-metrics-{group}",
            **common,
        ) as met,
        client(enq) as enquiry,
        client(cmp) as complaints,
        client(sla) as sla_client,
        client(met) as metrics,
    ):
        yield Platform(enquiry, complaints, sla_client, metrics, token)


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    return response.json()


@dataclass
class Scenario:
    """What the scenario created: the contacts' ids and the free text it sent."""

    subjects: set[str]
    free_text: list[str]


async def drive(p: Platform) -> Scenario:
    """Contacts on every channel that takes personal data, their steps, and their erasure."""
    start = datetime.now(UTC) - timedelta(days=2)

    def at(hours: float) -> str:
        return (start + timedelta(hours=hours)).isoformat()

    m, s, o = MARGARET, SEUN, SIOBHAN
    words = {
        "enquiry": f"Hello, this is {m.name} of {m.address}. Our green bin has not been emptied "
        f"for three weeks; please ring me on {m.phone} or email {m.email}.",
        "open311": f"Fly-tipped mattress outside {s.address}, reported by {s.name} ({s.phone}).",
        "standby": f"{o.name} reports water coming through the kitchen ceiling at {o.address}.",
        "action": f"Emergency plumber sent to {o.street}; call back on {o.phone}.",
        "complaint": f"I, {m.name}, complain that my bin at {m.address} is still not emptied.",
        "response": f"Dear Mrs Thistlewood, we are sorry about the missed bins at {m.street}.",
        "escalation": f"Mrs Thistlewood ({m.email}) is not satisfied and asks for stage 2.",
    }
    subjects: set[str] = set()

    customer = {
        "name": m.name,
        "email": m.email,
        "phone": m.phone,
        "address": m.address,
        "uprn": m.uprn,
    }
    enquiry = _ok(
        await p.enquiry.post(
            "/v1/enquiries",
            json={
                "channel": "email",
                "service_area": "waste",
                "received_at": at(0),
                "description": words["enquiry"],
                "customer": customer,
                "location": {"address": m.address},
            },
        ),
        201,
    )
    subjects.add(enquiry["id"])
    for hours, (step, body) in enumerate(
        [
            ("acknowledge", {}),
            ("assign", {"service_area": "waste", "assignee_id": "WST-0042"}),
            ("respond", {}),
            ("resolve", {"first_point": False}),
        ],
        start=1,
    ):
        _ok(
            await p.enquiry.post(
                f"/v1/enquiries/{enquiry['id']}/{step}", json=body | {"at": at(hours)}
            )
        )
    # A resident's mistake is refused without the refusal repeating their details anywhere.
    bad = customer | {"email": m.email.replace("@", " at ")}
    refused = await p.enquiry.post(
        "/v1/enquiries",
        json={"channel": "email", "service_area": "waste", "received_at": at(0), "description": "x"}
        | {"customer": bad},
    )
    assert refused.status_code == 422, refused.text

    calls = _ok(
        await p.enquiry.post(
            "/v1/calls",
            json=[
                {
                    "call_id": f"tel-{uuid.uuid4().hex}",
                    "offered_at": at(5),
                    "answered_at": at(5.01),
                    "ended_at": at(5.1),
                    "queue": "waste",
                    "agent_id": "CC-0117",
                    "service_area": "waste",
                    "enquiry_id": enquiry["id"],
                }
            ],
        ),
        201,
    )
    subjects.update(result["id"] for result in calls["results"])
    visits = _ok(
        await p.enquiry.post(
            "/v1/visits",
            json=[
                {
                    "visit_id": f"kiosk-{uuid.uuid4().hex}",
                    "arrived_at": at(6),
                    "attended_at": at(6.2),
                    "service_area": "council_tax",
                    "agent_id": "RCP-0003",
                }
            ],
        ),
        201,
    )
    subjects.update(str(result["id"]) for result in visits["results"] if result.get("id"))
    _ok(await p.enquiry.post("/v1/feedback", json={"score": 2, "enquiry_id": enquiry["id"]}), 201)

    services = _ok(await p.enquiry.get("/open311/v2/services.json"))
    service_code = next(svc["service_code"] for svc in services if not svc["metadata"])
    first, last = s.name.split(" ", 1)
    reported = _ok(
        await p.enquiry.post(
            "/open311/v2/requests.json",
            data={
                "api_key": p.token,
                "service_code": service_code,
                "address_string": s.address,
                "email": s.email,
                "first_name": first,
                "last_name": last,
                "phone": s.phone,
                "description": words["open311"],
            },
        )
    )
    token = reported[0].get("token") or reported[0].get("service_request_id")
    assert token

    standby = _ok(
        await p.enquiry.post(
            "/v1/standby/call-records",
            json=[
                {
                    "record_id": f"SB-{uuid.uuid4().hex[:10]}",
                    "call_started_at": at(14),
                    "answered_at": at(14.01),
                    "ended_at": at(14.1),
                    "category": "housing_repair",
                    "service_area": "housing",
                    "action_taken": words["action"],
                    "requires_follow_up": True,
                    "caller_phone": o.phone,
                    "notes": words["standby"],
                }
            ],
        )
    )
    (record,) = standby["results"]
    assert record["status"] == "created", standby
    subjects.add(record["enquiry_id"])

    complaint = _ok(
        await p.complaints.post(
            "/v1/complaints",
            json={
                "received_at": at(7),
                "channel": "letter",
                "service_area": "waste",
                "description": words["complaint"],
                "enquiry_id": enquiry["id"],
                "customer": customer | {"address": m.address},
            },
        ),
        201,
    )
    subjects.add(complaint["id"])
    steps = [
        ("acknowledge", {"officer": "CMP-0007", "at": at(8)}),
        (
            "respond",
            {
                "officer": "CMP-0007",
                "outcome": "not_upheld",
                "summary": words["response"],
                "at": at(9),
            },
        ),
        ("escalate", {"reason": words["escalation"], "at": at(10)}),
    ]
    for step, body in steps:
        _ok(await p.complaints.post(f"/v1/complaints/{complaint['id']}/{step}", json=body))

    # The data went in and is there to leak: it is read back through the API.
    detail = _ok(await p.enquiry.get(f"/v1/enquiries/{enquiry['id']}"))
    assert detail["customer"]["email"] == m.email
    # Erasure by email address and by telephone number, as a resident asks for it.
    _ok(await p.enquiry.post("/v1/customers/erase", json={"email": s.email}))
    _ok(await p.enquiry.post("/v1/customers/erase", json={"phone": o.phone}))
    _ok(await p.complaints.post(f"/v1/complaints/{complaint['id']}/erase"))
    _ok(await p.sla.get("/v1/clocks", params={"subject": enquiry["id"]}))
    _ok(await p.metrics.get("/v1/channels", params={"period": _financial_year(start)}))
    return Scenario(subjects, list(words.values()))


def _financial_year(moment: datetime) -> str:
    first = moment.year if moment.month >= 4 else moment.year - 1
    return f"{first}-{str(first + 1)[2:]}"


async def wait_until_consumed(
    database_url: str, bootstrap: str, subjects: set[str], *, timeout: float = 120.0
) -> int:
    """Waits until sla-monitor and metrics-api have handled every contact event of `subjects`."""
    engine = create_async_engine(database_url)
    query = {
        schema: text(
            f"SELECT count(*) FROM {schema}.inbox_message WHERE event_id IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        for schema in ("sla", "metrics")
    }
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            ids = [
                r.event_id
                for r in await read_every_event(bootstrap)
                if r.topic == CONTACT_EVENTS and r.subject in subjects
            ]
            async with engine.connect() as connection:
                handled = {
                    schema: (await connection.execute(q, {"ids": ids})).scalar_one()
                    for schema, q in query.items()
                }
            if ids and all(count == len(ids) for count in handled.values()):
                return len(ids)
            assert loop.time() < deadline, f"of {len(ids)} events, handled: {handled}"
            await asyncio.sleep(1)
    finally:
        await engine.dispose()


# -- the test ----------------------------------------------------------------------------------


async def test_no_personal_data_in_any_event_or_log_line(
    database_url: str,
    kafka_bootstrap: str,
    api_keys_file: Path,
    issue_api_key: Callable[..., str],
    session_log: Path,
    security_summary: list[str],
) -> None:
    token = issue_api_key("admin", name="pii-scan")
    logged_before = (await asyncio.to_thread(session_log.stat)).st_size
    async with platform(database_url, kafka_bootstrap, api_keys_file, token) as p:
        scenario = await drive(p)
        handled = await wait_until_consumed(database_url, kafka_bootstrap, scenario.subjects)

    values = submitted_values(scenario.free_text)
    hits: list[Hit] = []
    records = await read_every_event(kafka_bootstrap)
    by_place = {(r.topic, r.partition, r.offset): r for r in records}
    poison = 0
    for record in records:
        written_by_us = not foreign(record, by_place)
        poison += not written_by_us
        hits += scan(record.where, record_text(record, value=written_by_us), values)
    lines = 0
    for path in await asyncio.to_thread(log_files, session_log):
        for number, line in enumerate(await asyncio.to_thread(_all_lines, path), 1):
            lines += 1
            hits += scan(f"{path}:{number}", line, values)
    scenario_log = await asyncio.to_thread(_read_from, session_log, logged_before)
    # The access lines of the scenario's requests, by the service that answered.
    answered_by = set(re.findall(r"\] request .* service=([a-z-]+)", ANSI.sub("", scenario_log)))

    ours_on_broker = sum(1 for r in records if r.subject in scenario.subjects)
    security_summary.append(
        f"personal data: {len(records)} events ({ours_on_broker} of this test's contacts; "
        f"{poison} tests' poison and its dead letters, headers only) and {lines} log lines "
        f"read, {len(hits)} hits"
    )
    # Not vacuous: the scenario's events were on the broker and all four services logged it.
    assert ours_on_broker >= handled > 0
    assert lines > 0
    assert answered_by == {"enquiry-api", "complaints-api", "sla-monitor", "metrics-api"}, (
        answered_by
    )
    assert not hits, "\n".join(f"{h.where}: {h.what}: …{h.excerpt}…" for h in hits[:40])
