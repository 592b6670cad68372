"""The API: commitments, clocks, breaches (filters, pages), the calendar; keys and bad input."""

from __future__ import annotations

import sys
from datetime import date, time, timedelta
from pathlib import Path
from uuid import uuid4

import httpx
from aiokafka import AIOKafkaProducer

from contact_common.events import Channel
from sla_monitor.timekeeping import FakeClock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from upstream_events import Call, Enquiry, london, publish, wait_until  # noqa: E402

T0 = london(date(2026, 6, 3), time(10))


async def test_commitments_and_calendar(sla_monitor) -> None:
    async with sla_monitor(FakeClock(T0)) as (server, client):
        commitments = (await client.get("/v1/commitments")).json()
        assert commitments["policy"] == "default"
        targets = {c["id"]: c["target"] for c in commitments["commitments"]}
        assert targets["phone-answer"] == {"seconds": 15, "working_days": None}
        assert targets["complaint-respond-stage2"]["working_days"] == 20
        assert len(targets) == 10

        days = await client.get(
            "/v1/calendar/working-days", params={"from": "2026-08-28", "to": "2026-09-01"}
        )
        assert days.status_code == 200, days.text
        body = days.json()
        assert body["from"] == "2026-08-28" and body["working_days"] == 2
        assert [(d["date"], d["working"], d["holiday"]) for d in body["days"]] == [
            ("2026-08-28", True, None),
            ("2026-08-29", False, None),
            ("2026-08-30", False, None),
            ("2026-08-31", False, "Late Summer Bank Holiday"),
            ("2026-09-01", True, None),
        ]
        backwards = await client.get(
            "/v1/calendar/working-days", params={"from": "2026-09-01", "to": "2026-08-01"}
        )
        assert backwards.status_code == 422
        assert backwards.headers["content-type"] == "application/problem+json"
        missing = await client.get("/v1/calendar/working-days", params={"from": "2026-09-01"})
        assert missing.status_code == 422 and "query.to" in missing.text
        bad_subject = await client.get("/v1/clocks", params={"subject": "not-a-uuid"})
        assert bad_subject.status_code == 422 and "query.subject" in bad_subject.text
        assert (await client.get("/v1/clocks", params={"subject": str(uuid4())})).json() == []
        bad_cursor = await client.get("/v1/breaches", params={"cursor": "!!"})
        assert bad_cursor.status_code == 422

        async with httpx.AsyncClient(base_url=server.url) as anonymous:
            for path in ("/v1/commitments", "/v1/breaches", "/v1/clocks?subject=" + str(uuid4())):
                assert (await anonymous.get(path)).status_code == 401
            wrong = await anonymous.get(
                "/v1/commitments", headers={"Authorization": "Bearer cc_000000000000_nope"}
            )
            assert wrong.status_code == 401
        openapi = (await client.get("/openapi.json")).json()
        for path in ("/v1/commitments", "/v1/clocks", "/v1/breaches", "/v1/calendar/working-days"):
            operation = openapi["paths"][path]["get"]
            assert operation["summary"] and operation["description"]
            assert {"401", "403"} <= set(operation["responses"])


async def test_the_complaint_handling_code_policy_is_shown(sla_monitor, issue_api_key) -> None:
    async with sla_monitor(FakeClock(T0), policy="complaint-handling-code-2024") as (
        server,
        client,
    ):
        body = (await client.get("/v1/commitments")).json()
        assert body["policy"] == "complaint-handling-code-2024"
        respond = next(c for c in body["commitments"] if c["id"] == "complaint-respond")
        assert respond["anchor"] == "acknowledged"
        token = issue_api_key("metrics:read")
        async with httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}
        ) as other:
            forbidden = await other.get("/v1/commitments")
            assert forbidden.status_code == 403


async def test_breaches_filters_and_pages(sla_monitor, producer: AIOKafkaProducer) -> None:
    clock = FakeClock(T0)
    calls = [Call(T0 + timedelta(seconds=i)) for i in range(5)]
    email = Enquiry(T0, channel=Channel.email, area="planning")
    answered_late = Call(T0)
    async with sla_monitor(clock) as (_, client):
        await publish(
            producer,
            [c.offered() for c in calls]
            + [
                email.opened(),
                answered_late.offered(),
                answered_late.answered(timedelta(seconds=30)),
            ],
        )
        await clock.set(T0 + timedelta(days=7))
        ours = {c.id for c in calls} | {email.id, answered_late.id}

        async def all_breaches() -> list[dict]:
            items, cursor = [], None
            while True:
                params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
                page = (await client.get("/v1/breaches", params=params)).json()
                items += page["items"]
                cursor = page["next_cursor"]
                if cursor is None:
                    return [i for i in items if i["subject"] in {str(s) for s in ours}]

        async def flagged() -> bool:
            # 5 silent calls x 2 commitments, the email's 2, the late answer's 1.
            return len(await all_breaches()) == 13

        await wait_until(flagged, timeout=60, what="the breaches")
        items = await all_breaches()
        assert len({i["clock_id"] for i in items}) == 13  # pages neither repeat nor skip
        keys = [(i["breached_at"], i["clock_id"]) for i in items]
        assert keys == sorted(keys, reverse=True)
        open_ = (await client.get("/v1/breaches", params={"open": "true", "limit": 1000})).json()
        open_ours = {
            i["clock_id"] for i in open_["items"] if i["subject"] in {str(s) for s in ours}
        }
        assert len(open_ours) == 12  # the late answer's breach is stopped: nothing to chase
        planning = (
            await client.get(
                "/v1/breaches",
                params={"service_area": "planning", "commitment": "email-respond", "limit": 1000},
            )
        ).json()["items"]
        assert [i["subject"] for i in planning if i["subject"] == str(email.id)] == [str(email.id)]
        june_4 = (
            await client.get("/v1/breaches", params={"from": "2026-06-04", "to": "2026-06-04"})
        ).json()["items"]
        assert str(email.id) in {i["subject"] for i in june_4}  # acknowledgement due Thu 17:00
        assert not {str(c.id) for c in calls} & {i["subject"] for i in june_4}
