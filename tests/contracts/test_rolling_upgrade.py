"""A rolling upgrade with the producers first: this build's consumers against the next release.

The next release is built for real: a copy of contact_common with a new channel (`whatsapp`)
added to the vocabulary and a new event type (`callback.requested`) registered, as a developer
would write them. It runs in a process of its own, its models validating what it writes, and
publishes through its own relay sender to the real broker. This build's sla-monitor and
metrics-api, the consumers a release behind, must dead-letter none of it, must count it, must
carry on to the ordinary event after it on the same partition, and must use what they can:
sla-monitor starts a complaint's clocks on the new channel (its commitments do not restrict
channels), metrics-api counts the contacts under the new channel. The compatibility check must
call the next release's schemas additive against this build's committed snapshots.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import REGISTRY

import contact_common
from contact_common.bus.kafka import create_producer
from contact_common.bus.relay.sender import partition_for
from contact_common.bus.topics import CONTACT_EVENTS, SLA_EVENTS, dead_letter_topic
from contact_devtools.testing import REPOSITORY, running_service, skip_to_end
from metrics_api.config import Settings as MetricsSettings
from metrics_api.main import create_app as create_metrics
from sla_monitor.config import Settings as SlaSettings
from sla_monitor.main import create_app as create_sla_monitor

pytestmark = pytest.mark.e2e

SNAPSHOTS = REPOSITORY / "libs" / "common" / "tests" / "events_snapshot"
# Wednesday 4 June 2025, 10:00 in London: office hours, deadlines long past.
RECEIVED_AT = datetime(2025, 6, 4, 9, 0, tzinfo=UTC)

CALLBACK_MODULE = '''"""Callback requests: a resident asks to be called back; subject = its id."""

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from contact_common.events.common import Channel, ServiceArea, UtcDatetime
from contact_common.events.envelope import CloudEvent, EventData


class CallbackRequestedData(EventData):
    """A resident asked to be called back."""

    subject_field: ClassVar[str] = "callback_id"
    time_field: ClassVar[str] = "requested_at"

    callback_id: UUID = Field(description="The callback's id.")
    channel: Channel = Field(description="The channel the request came by.")
    service_area: ServiceArea = Field(description="The service area it is about.")
    requested_at: UtcDatetime = Field(description="When the callback was requested.")


class CallbackRequested(CloudEvent):
    """callback.requested: a resident asked to be called back."""

    type: Literal["callback.requested"] = "callback.requested"
    data: CallbackRequestedData
'''

# The next release's producer: builds its events with its own models and sends them with its
# own relay sender, as enquiry-api and complaints-api would; reports its compatibility check.
PRODUCER = """
import asyncio, json, os, sys
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from uuid import UUID

import contact_common
assert contact_common.__file__.startswith(os.environ["NEXT_BUILD"]), contact_common.__file__

from contact_common.bus.relay.sender import OutboxSender
from contact_common.events import (
    Channel, ComplaintAcknowledged, ComplaintAcknowledgedData, ComplaintReceived,
    ComplaintReceivedData, ComplaintStage, EnquiryOpened, EnquiryOpenedData, encode_event,
    topic_for,
)
from contact_common.events import export
from contact_common.events.callback import CallbackRequested, CallbackRequestedData
from contact_common.events.compat import breaking_changes

plan = json.loads(os.environ["PLAN"])
at = datetime.fromisoformat(plan["received_at"])
area, complaint = plan["area"], UUID(plan["complaint"])
common = {"complaint_id": complaint, "channel": Channel.whatsapp, "service_area": area,
          "received_at": at}
source = "/next-release"
events = [
    ComplaintReceived.from_data(ComplaintReceivedData(
        **common, reference="CMP-2025-000001", stage=ComplaintStage.stage_1), source=source),
    CallbackRequested.from_data(CallbackRequestedData(
        callback_id=complaint, channel=Channel.whatsapp, service_area=area,
        requested_at=at + timedelta(minutes=10)), source=source),
    EnquiryOpened.from_data(EnquiryOpenedData(
        enquiry_id=UUID(plan["enquiry_on_whatsapp"]), channel=Channel.whatsapp,
        service_area=area, received_at=at, reference="ENQ-2025-000001"), source=source),
    ComplaintAcknowledged.from_data(ComplaintAcknowledgedData(
        **common, stage=ComplaintStage.stage_1, acknowledged_at=at + timedelta(hours=1)),
        source=source),
    EnquiryOpened.from_data(EnquiryOpenedData(
        enquiry_id=UUID(plan["ordinary_enquiry"]), channel=Channel.email, service_area=area,
        received_at=at + timedelta(hours=2), reference="ENQ-2025-000002"), source=source),
]

async def publish():
    sender = OutboxSender(plan["bootstrap"], client_id="next-release")
    try:
        await sender.publish([
            SimpleNamespace(id=i, topic=topic_for(e), key=e.subject, payload=encode_event(e))
            for i, e in enumerate(events)
        ])
    finally:
        await sender.close()

asyncio.run(publish())
schemas = export.json_schemas()
snapshots = Path(plan["snapshots"])
print(json.dumps({
    "ids": [str(e.id) for e in events],
    "breaking": {
        name: breaking_changes(json.loads((snapshots / f"{name}.json").read_text()), schema)
        for name, schema in schemas.items() if (snapshots / f"{name}.json").exists()
    },
    "new_types": sorted(n for n in schemas if not (snapshots / f"{n}.json").exists()),
}))
"""


def next_release(root: Path) -> Path:
    """A copy of this build's contact_common with the next release's additions written in."""
    package = root / "contact_common"
    shutil.copytree(
        Path(contact_common.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__")
    )
    events = package / "events"
    edit(events / "common.py", '    standby = "standby"\n', '    whatsapp = "whatsapp"\n')
    (events / "callback.py").write_text(CALLBACK_MODULE, encoding="utf-8")
    registry = events / "registry.py"
    edit(
        registry,
        "from contact_common.events.call import CallAbandoned, CallAnswered, CallOffered\n",
        "from contact_common.events.callback import CallbackRequested\n",
    )
    edit(registry, "    | SlaWithdrawn,\n", "    | CallbackRequested,\n", replace=True)
    return root


def edit(path: Path, anchor: str, addition: str, *, replace: bool = False) -> None:
    """Adds `addition` after `anchor` (or in its place, keeping its indentation's line)."""
    text = path.read_text(encoding="utf-8")
    assert text.count(anchor) == 1, f"{path.name}: the anchor {anchor!r} moved; update this test"
    new = anchor.rstrip(",\n") + "\n" + addition if replace else anchor + addition
    path.write_text(text.replace(anchor, new), encoding="utf-8")


async def test_this_build_s_consumers_take_the_next_release_s_events(
    database_url: str,
    kafka_bootstrap: str,
    api_keys_file: Path,
    issue_api_key: Callable[..., str],
    tmp_path: Path,
) -> None:
    area = f"t{uuid.uuid4().hex[:12]}"
    complaint = uuid.uuid4()
    # All on one partition, so each is read after the ones before it.
    on_whatsapp = await key_on_the_partition_of(kafka_bootstrap, complaint)
    ordinary = await key_on_the_partition_of(kafka_bootstrap, complaint)
    sla_group, metrics_group = f"t-sla-{area}", f"t-metrics-{area}"

    async with AsyncExitStack() as stack:
        dead_letters = await stack.enter_async_context(
            raw_records(
                kafka_bootstrap, dead_letter_topic(CONTACT_EVENTS), dead_letter_topic(SLA_EVENTS)
            )
        )
        # This build's consumers, each a consumer group of its own.
        where = {
            "database_url": database_url,
            "kafka_bootstrap": kafka_bootstrap,
            "api_keys_file": api_keys_file,
        }
        sla, metrics = [
            await stack.enter_async_context(
                serving(app, settings, service, issue_api_key(scope), consumer_group=group, **where)
            )
            for app, settings, service, scope, group in [
                (create_sla_monitor, SlaSettings, "sla-monitor", "sla:read", sla_group),
                (create_metrics, MetricsSettings, "metrics-api", "metrics:read", metrics_group),
            ]
        ]
        produced = await asyncio.to_thread(
            run_next_release,
            tmp_path,
            {
                "bootstrap": kafka_bootstrap,
                "received_at": RECEIVED_AT.isoformat(),
                "area": area,
                "complaint": str(complaint),
                "enquiry_on_whatsapp": str(on_whatsapp),
                "ordinary_enquiry": str(ordinary),
                "snapshots": str(SNAPSHOTS),
            },
        )

        # The check calls the next release additive: the new value and type break nothing.
        assert produced["new_types"] == ["callback.requested"]
        assert {name: p for name, p in produced["breaking"].items() if p} == {}

        # sla-monitor went on past the new type to the ordinary event after it...
        email_clocks = await until_found(sla, f"/v1/clocks?subject={ordinary}", count=2)
        assert {c["commitment"] for c in email_clocks} == {"email-acknowledge", "email-respond"}
        # ...gave the complaint on the new channel the clocks that do not restrict channels...
        clocks = await until_found(
            sla, f"/v1/clocks?subject={complaint}", count=2, done=lambda c: c["status"] == "met"
        )
        by_commitment = {c["commitment"]: c for c in clocks}
        assert set(by_commitment) == {"complaint-acknowledge", "complaint-respond"}
        assert {c["channel"] for c in clocks} == {"whatsapp"}
        assert by_commitment["complaint-acknowledge"]["status"] == "met"
        # ...and none to the enquiry on it (every enquiry commitment lists its channels).
        assert (await sla.get("/v1/clocks", params={"subject": str(on_whatsapp)})).json() == []

        # metrics-api counted the contacts on the new channel with the others.
        rows = await until_channels(metrics, area, {"whatsapp": 1, "email": 1})
        assert rows["all"]["enquiries"] == 2

        ours = {str(key).encode() for key in (complaint, on_whatsapp, ordinary)}
        dead = [r for r in await dead_letters.read_to_end() if r.key in ours]
        assert dead == [], "a newer producer's event was dead-lettered"

    # Counted by each consumer (groups of this test's own, so from nothing).
    for group in (sla_group, metrics_group):
        assert unknown_count(group, "callback.requested", "unknown_type") >= 1, group
        assert unknown_count(group, "complaint.received", "unknown_value") >= 1, group


def run_next_release(root: Path, plan: dict[str, Any]) -> dict[str, Any]:
    """Runs the next release's producer in a process of its own; what it reported."""
    build = next_release(root / "next")
    env = {
        **os.environ,
        "PYTHONPATH": str(build),
        "NEXT_BUILD": str(build),
        "PLAN": json.dumps(plan),
    }
    done = subprocess.run(
        [sys.executable, "-c", PRODUCER], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


async def key_on_the_partition_of(bootstrap: str, key: uuid.UUID) -> uuid.UUID:
    """A new contact id whose events go to the same partition of contact.events as `key`'s."""
    # As the relay's sender picks: the partitions in the order its producer gives them.
    producer = create_producer(bootstrap, client_id="t-rolling-upgrade")
    await producer.start()
    try:
        partitions = list(await producer.partitions_for(CONTACT_EVENTS))
    finally:
        await producer.stop()
    wanted = partition_for(str(key).encode(), partitions)
    while True:
        candidate = uuid.uuid4()
        if partition_for(str(candidate).encode(), partitions) == wanted:
            return candidate


@asynccontextmanager
async def serving(
    create_app: Callable[..., Any], settings: type[Any], service: str, token: str, **options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A service of this build on a real port; a client holding `token`."""
    async with (
        running_service(create_app, settings, service=service, **options) as server,
        httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client,
    ):
        yield client


async def until_found(
    client: httpx.AsyncClient,
    path: str,
    *,
    count: int,
    done: Callable[[dict[str, Any]], bool] = lambda _: True,
    timeout: float = 60,
) -> list[dict[str, Any]]:
    """Polls a list endpoint until it has `count` items and one of them is `done`."""

    async def found() -> list[dict[str, Any]] | None:
        response = await client.get(path)
        assert response.status_code == 200, response.text
        items = response.json()
        return items if len(items) >= count and any(done(i) for i in items) else None

    return await until(found, what=path, timeout=timeout)


async def until_channels(
    client: httpx.AsyncClient, area: str, expected: dict[str, int], timeout: float = 60
) -> dict[str, dict[str, Any]]:
    """Polls the channel mix of `area` in 2025-26 until it counts `expected` enquiries."""
    seen: list[Any] = []

    async def found() -> dict[str, dict[str, Any]] | None:
        response = await client.get(
            "/v1/channels", params={"period": "2025-26", "service_area": area}
        )
        assert response.status_code == 200, response.text
        rows = {row["channel"]: row for row in response.json()["rows"]}
        seen[:] = [rows]
        counted = {name: rows[name]["enquiries"] for name in expected if name in rows}
        return rows if counted == expected else None

    try:
        return await until(found, what=f"the channel mix of {area}", timeout=timeout)
    except pytest.fail.Exception:
        pytest.fail(f"the channel mix of {area} never counted {expected}: {seen}")


async def until(check: Callable[[], Awaitable[Any]], *, what: str, timeout: float) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (result := await check()) is None:
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.3)
    return result


def unknown_count(group: str, event_type: str, reason: str) -> float:
    labels = {"consumer": group, "type": event_type, "reason": reason}
    return REGISTRY.get_sample_value("events_unknown_total", labels) or 0.0


class RawRecords:
    """Every record written to some topics after it was opened, read up to their end on demand."""

    def __init__(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
        self.consumer = consumer
        self.partitions = partitions

    async def read_to_end(self) -> list[Any]:
        """What was written since, up to the high watermark each partition has now."""
        records: list[Any] = []
        for _ in range(100):
            batches = await self.consumer.getmany(*self.partitions, timeout_ms=200)
            for batch in batches.values():
                records.extend(batch)
            behind = [
                tp
                for tp in self.partitions
                if self.consumer.highwater(tp) is None
                or await self.consumer.position(tp) < (self.consumer.highwater(tp) or 0)
            ]
            if not behind and not batches:
                return records
        pytest.fail("could not read the dead-letter topics to their end")


@asynccontextmanager
async def raw_records(bootstrap: str, *topics: str) -> AsyncIterator[RawRecords]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await skip_to_end(consumer, partitions)
        yield RawRecords(consumer, partitions)
    finally:
        await consumer.stop()
