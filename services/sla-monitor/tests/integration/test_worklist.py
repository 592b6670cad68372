"""The worklist (filters, due windows, statuses, order, cursor, total, CSV) and the staff
directory it names owners from, on the real broker and PostgreSQL with a clock the test sets."""

from __future__ import annotations

import contextlib
import csv
import io
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from uuid import uuid4

import httpx
from aiokafka import AIOKafkaProducer

from contact_common.events import Channel
from sla_monitor.timekeeping import FakeClock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from upstream_events import Complaint, Enquiry, london, publish, wait_until  # noqa: E402

# Wednesday 3 June 2026, 10:00 in London: the service's "now".
NOW = london(date(2026, 6, 3), time(10))
MON, TUE, WED = date(2026, 6, 1), date(2026, 6, 2), date(2026, 6, 3)


def _area() -> str:
    # Other tests' events may be on the shared topic: this test's contacts get areas of their own.
    return f"waste_{uuid4().hex[:8]}"


async def _add_staff(client: httpx.AsyncClient, staff_id: str, name: str) -> None:
    body = {"staff_id": staff_id, "name": name, "team": "Waste", "team_email": "waste@c.gov.uk"}
    response = await client.post("/v1/staff", json=body)
    assert response.status_code == 201, response.text


@dataclass
class Seeded:
    """sla-monitor holding the test's contacts: four enquiries and a complaint."""

    client: httpx.AsyncClient
    area: str
    other_area: str
    fresh: Enquiry

    async def worklist(self, **params: object) -> dict:
        """GET /v1/worklist (the test's area unless told), asserting 200."""
        params.setdefault("service_area", self.area)
        response = await self.client.get("/v1/worklist", params=params)
        assert response.status_code == 200, response.text
        return response.json()


@contextlib.asynccontextmanager
async def _seeded(sla_monitor, producer: AIOKafkaProducer, issue_api_key) -> AsyncIterator[Seeded]:
    area, other_area = _area(), _area()
    # Acknowledge due Tue 17:00 (breached by now); respond due Thu 4 June 17:00.
    late = Enquiry(london(MON, time(10)), area=area, reference="ENQ-2026-000101")
    # A voicemail due today at 17:00, not yet at risk (Wed 14:45).
    voicemail = Enquiry(
        london(TUE, time(16)), channel=Channel.voicemail, area=area, reference="ENQ-2026-000102"
    )
    # Acknowledge due Thu 17:00, respond Mon 8 June 17:00 (next week).
    fresh = Enquiry(london(WED, time(9)), area=area, reference="ENQ-2026-000103")
    # Acknowledge due Thu 4 June, respond Mon 15 June; in the other area.
    complaint = Complaint(london(MON, time(11)), area=other_area, reference="CMP-2026-000009")
    admin = issue_api_key("admin")
    async with sla_monitor(FakeClock(NOW)) as (server, client):
        async with httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {admin}"}
        ) as admin_client:
            await _add_staff(admin_client, "jsmith", "Jo Smith")
        await publish(
            producer,
            [
                late.opened(),
                late.assigned(london(MON, time(11)), "jsmith"),
                # An earlier assignment delivered later does not replace the later one.
                late.assigned(london(MON, time(10, 30)), "agency:77"),
                voicemail.opened(),
                fresh.opened(),
                fresh.assigned(london(WED, time(9, 30)), "agency:77"),
                complaint.received(),
            ],
        )
        seeded = Seeded(client, area, other_area, fresh)

        async def arrived() -> bool:
            return (await seeded.worklist())["total"] == 5

        await wait_until(arrived, timeout=60, what="the clocks of the test's enquiries")
        yield seeded


async def test_worklist_rows_order_and_filters(
    sla_monitor, producer: AIOKafkaProducer, issue_api_key
) -> None:
    async with _seeded(sla_monitor, producer, issue_api_key) as seeded:
        worklist, area = seeded.worklist, seeded.area
        page = await worklist()
        assert page["as_of"].startswith("2026-06-03T09:00:00")
        rows = [
            (i["reference"], i["commitment"], i["status"], i["assignee_id"], i["assignee_name"])
            for i in page["items"]
        ]
        assert rows[:2] == [
            ("ENQ-2026-000101", "email-acknowledge", "breached", "jsmith", "Jo Smith"),
            ("ENQ-2026-000102", "voicemail-respond", "open", None, None),
        ]
        # Both due Thursday 17:00: in clock id order, which the ids (derived) decide.
        assert sorted(rows[2:4]) == [
            ("ENQ-2026-000101", "email-respond", "open", "jsmith", "Jo Smith"),
            ("ENQ-2026-000103", "email-acknowledge", "open", "agency:77", None),
        ]
        assert rows[4] == ("ENQ-2026-000103", "email-respond", "open", "agency:77", None)
        keys = [(i["due_at"], i["clock_id"]) for i in page["items"]]
        assert keys == sorted(keys)
        first = page["items"][0]
        assert first["subject_type"] == "enquiry"
        assert first["due_at"].startswith("2026-06-02T16:00:00")  # 17:00 BST
        assert first["service_area"] == area and first["assignee_team"] == "Waste"

        today = await worklist(due="today")
        assert [i["reference"] for i in today["items"]] == ["ENQ-2026-000101", "ENQ-2026-000102"]
        assert today["total"] == 2
        week = await worklist(due="week")
        assert week["total"] == 4 and all(i["due_at"] < "2026-06-07T23" for i in week["items"])
        assert (await worklist(status="breached"))["total"] == 1
        assert (await worklist(status=["at_risk", "open"]))["total"] == 4
        assert (await worklist(assignee="jsmith"))["total"] == 2
        responds = await worklist(commitment="email-respond")
        assert [i["reference"] for i in responds["items"]] == ["ENQ-2026-000101", "ENQ-2026-000103"]
        theirs = await worklist(service_area=seeded.other_area)
        assert [(i["reference"], i["subject_type"], i["commitment"]) for i in theirs["items"]] == [
            ("CMP-2026-000009", "complaint", "complaint-acknowledge"),
            ("CMP-2026-000009", "complaint", "complaint-respond"),
        ]


async def test_worklist_pages_csv_and_stops(
    sla_monitor, producer: AIOKafkaProducer, issue_api_key
) -> None:
    async with _seeded(sla_monitor, producer, issue_api_key) as seeded:
        worklist, area, client = seeded.worklist, seeded.area, seeded.client
        page = await worklist()
        # Pages of two: the same rows in the same order, the true total on every page.
        paged, cursor, pages = [], None, 0
        while True:
            step = await worklist(limit=2, **({"cursor": cursor} if cursor else {}))
            assert step["total"] == 5
            paged += step["items"]
            pages += 1
            cursor = step["next_cursor"]
            if cursor is None:
                break
        assert pages == 3 and paged == page["items"]

        # CSV by ?format=csv and by Accept: the same rows as the JSON.
        for request in (
            client.get("/v1/worklist", params={"service_area": area, "format": "csv"}),
            client.get(
                "/v1/worklist", params={"service_area": area}, headers={"Accept": "text/csv"}
            ),
        ):
            response = await request
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/csv")
            assert response.headers["x-total-count"] == "5"
            table = list(csv.DictReader(io.StringIO(response.text)))
            assert [r["clock_id"] for r in table] == [i["clock_id"] for i in page["items"]]
            assert table[0]["reference"] == "ENQ-2026-000101"
            assert table[0]["assignee_name"] == "Jo Smith" and table[1]["assignee_id"] == ""
        csv_page = await client.get(
            "/v1/worklist", params={"service_area": area, "format": "csv", "limit": 2}
        )
        assert csv_page.headers["x-next-cursor"]
        assert len(list(csv.DictReader(io.StringIO(csv_page.text)))) == 2

        # The acknowledgement stops its clock: off the worklist.
        await publish(producer, [seeded.fresh.acknowledged(london(WED, time(9, 45)))])

        async def acknowledged() -> bool:
            return (await worklist())["total"] == 4

        await wait_until(acknowledged, timeout=60, what="the acknowledgement")


async def test_worklist_refuses_bad_input(sla_monitor) -> None:
    async with sla_monitor(FakeClock(NOW)) as (server, client):
        for params, field in (
            ({"cursor": "!!"}, "query.cursor"),
            ({"due": "tomorrow"}, "query.due"),
            ({"status": "late"}, "query.status"),
            ({"service_area": "Waste Services"}, "query.service_area"),
            ({"limit": 0}, "query.limit"),
            ({"format": "xml"}, "query.format"),
        ):
            response = await client.get("/v1/worklist", params=params)
            assert response.status_code == 422, (params, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert field in response.text, (params, response.text)
        async with httpx.AsyncClient(base_url=server.url) as anonymous:
            assert (await anonymous.get("/v1/worklist")).status_code == 401
        openapi = (await client.get("/openapi.json")).json()
        operation = openapi["paths"]["/v1/worklist"]["get"]
        assert operation["summary"] and "text/csv" in operation["responses"]["200"]["content"]


async def test_staff_directory_crud(sla_monitor, issue_api_key) -> None:
    admin = issue_api_key("admin")
    async with sla_monitor(FakeClock(NOW)) as (server, reader):
        async with httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {admin}"}
        ) as client:
            jo = {
                "staff_id": "jsmith",
                "name": "Jo Smith",
                "team": "Waste services",
                "team_email": "waste@council.gov.uk",
            }
            created = await client.post("/v1/staff", json=jo)
            assert created.status_code == 201, created.text
            assert created.json() | jo == created.json()
            assert created.json()["created_at"].startswith("2026-06-03T09:00:00")
            again = await client.post("/v1/staff", json=jo)
            assert again.status_code == 409 and "jsmith" in again.json()["detail"]

            changed = await client.put(
                "/v1/staff/jsmith",
                json={"name": "Jo Smith-Jones", "team": "Waste", "team_email": "w@council.gov.uk"},
            )
            assert changed.status_code == 200, changed.text
            assert (await client.get("/v1/staff/jsmith")).json()["name"] == "Jo Smith-Jones"
            await client.post("/v1/staff", json={**jo, "staff_id": "abrown", "name": "A Brown"})
            listed = (await client.get("/v1/staff")).json()
            assert [(s["staff_id"], s["name"]) for s in listed] == [
                ("abrown", "A Brown"),
                ("jsmith", "Jo Smith-Jones"),
            ]

            for body, field in (
                ({**jo, "staff_id": "x", "team_email": "not-an-address"}, "body.team_email"),
                ({**jo, "staff_id": "has space"}, "body.staff_id"),
                ({**jo, "staff_id": "y", "name": " "}, "body.name"),
                ({**jo, "staff_id": "z", "role": "admin"}, "body.role"),
            ):
                bad = await client.post("/v1/staff", json=body)
                assert bad.status_code == 422 and field in bad.text, (body, bad.text)
            missing = await client.put(
                "/v1/staff/nobody", json={"name": "N", "team": "T", "team_email": "t@c.gov.uk"}
            )
            assert missing.status_code == 404
            assert missing.headers["content-type"] == "application/problem+json"

            assert (await client.delete("/v1/staff/jsmith")).status_code == 204
            assert (await client.delete("/v1/staff/jsmith")).status_code == 404
            assert (await client.get("/v1/staff/jsmith")).status_code == 404
        # The sla:read key reads the worklist but not the directory.
        assert (await reader.get("/v1/staff")).status_code == 403
        assert (await reader.post("/v1/staff", json=jo)).status_code == 403
