"""SLA compliance per commitment by the local date of each deadline, and the open breaches to
chase, fed through the real broker; financial year 2015-16 and this test's own service area.

BST ended at 01:00 UTC on 25 October 2015 (2015-10-25 00:30 UTC is 01:30 BST that day) and
began at 01:00 UTC on 27 March 2016, so 2016-03-31 22:30 UTC is 23:30 BST 31 March 2016
(2015-16) and 2016-03-31 23:30 UTC is 00:30 BST 1 April 2016 (2016-17).
"""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from builders import Clock, Enquiry, utc  # noqa: E402


async def test_compliance_by_deadline_and_open_breaches(metrics_service, unique_area: str) -> None:
    area = unique_area
    june = utc("2015-06-02 16:00")
    start = june - timedelta(days=1)
    k1, k2, k3, k4 = (Clock("email-acknowledge", area, start, june) for _ in range(4))
    k5, k6 = (Clock("email-respond", area, start, june) for _ in range(2))
    k7 = Clock(
        "phone-answer",
        area,
        utc("2016-03-31 23:29"),
        utc("2016-03-31 23:30"),
        channel="phone",
        contact_type="call",
    )
    k8 = Clock(
        "phone-answer",
        area,
        utc("2016-03-31 22:29"),
        utc("2016-03-31 22:30"),
        channel="phone",
        contact_type="call",
    )
    k9 = Clock(
        "phone-answer",
        area,
        utc("2015-10-25 00:29"),
        utc("2015-10-25 00:30"),
        channel="phone",
        contact_type="call",
    )
    k10 = Clock("phone-answer", area, start, june, channel="phone", contact_type="call")
    events = [
        k1.met(june - timedelta(hours=2)),
        k2.met(june - timedelta(hours=1)),
        k3.breached(),  # the deadline passed with no stop: open
        k4.breached(stopped_at=june + timedelta(hours=3)),  # a late stop: breached, not open
        k5.met(june - timedelta(hours=5)),
        k6.breached(),  # open until its enquiry is resolved
        k7.breached(),  # due 1 April 2016: 2016-17
        k8.breached(),  # due 31 March 2016: open
        k9.met(utc("2015-10-25 00:29:10")),
        k10.met(june - timedelta(minutes=1)),
    ]
    async with metrics_service() as m:
        await m.feed(events)
        # Met: k1 k2 | k5 | k9 k10; breached: k3 k4 | k6 | k8 (k7 falls in 2016-17).
        compliance = await m.get("/v1/sla/compliance", period="2015-16", service_area=area)
        rows = {r["commitment"]: r for r in compliance["rows"]}
        assert set(rows) == {"email-acknowledge", "email-respond", "phone-answer", "all"}
        assert (rows["email-acknowledge"]["met"], rows["email-acknowledge"]["breached"]) == (2, 2)
        assert rows["email-acknowledge"]["compliance_percent"] == 50.0
        assert (rows["email-respond"]["met"], rows["email-respond"]["breached"]) == (1, 1)
        assert (rows["phone-answer"]["met"], rows["phone-answer"]["breached"]) == (2, 1)
        assert rows["phone-answer"]["compliance_percent"] == 66.67
        assert (rows["all"]["met"], rows["all"]["breached"]) == (5, 4)
        assert rows["all"]["compliance_percent"] == 55.56

        later = await m.get("/v1/sla/compliance", period="2016-17", service_area=area)
        assert {r["commitment"]: r["breached"] for r in later["rows"]} == {
            "phone-answer": 1,
            "all": 1,
        }
        october = await m.get(
            "/v1/sla/compliance", service_area=area, **{"from": "2015-10-25", "to": "2015-10-25"}
        )
        assert {r["commitment"]: r["met"] for r in october["rows"]} == {"phone-answer": 1, "all": 1}

        monthly = await m.get(
            "/v1/sla/compliance", period="2015-16", service_area=area, interval="month"
        )
        totals = {r["start"]: r for r in monthly["rows"] if r["commitment"] == "all"}
        assert len(totals) == 12
        assert (totals["2015-06-01"]["met"], totals["2015-06-01"]["breached"]) == (4, 3)
        assert totals["2015-06-01"]["compliance_percent"] == 57.14
        assert (totals["2015-10-01"]["met"], totals["2015-10-01"]["breached"]) == (1, 0)
        assert (totals["2016-03-01"]["met"], totals["2016-03-01"]["breached"]) == (0, 1)
        assert totals["2015-07-01"]["compliance_percent"] is None

        async def open_clocks() -> set:
            answer = await m.get("/v1/breaches", service_area=area)
            assert answer["count"] == len(answer["rows"])
            return {r["clock_id"] for r in answer["rows"]}

        assert await open_clocks() == {
            str(k3.clock_id),
            str(k6.clock_id),
            str(k7.clock_id),
            str(k8.clock_id),
        }
        in_year = await m.get("/v1/breaches", service_area=area, period="2015-16")
        # The longest overdue first: k3 and k6 (due June 2015), then k8.
        assert [r["clock_id"] for r in in_year["rows"]][-1] == str(k8.clock_id)
        assert {r["clock_id"] for r in in_year["rows"][:2]} == {str(k3.clock_id), str(k6.clock_id)}
        k8_row = in_year["rows"][-1]
        assert k8_row["commitment"] == "phone-answer" and k8_row["contact_type"] == "call"
        assert k8_row["overdue_seconds"] > 0

        # k3's late stop arrives (sla-monitor's breach with stopped_at); k6's enquiry is resolved
        # (a portal enquiry, so no commitment of its own starts); a late stop for k1 (met)
        # changes nothing; compliance stays as it was.
        k6_enquiry = Enquiry("portal", area, utc("2015-06-01 10:00"))
        k6_enquiry.id = k6.contact_id
        k6_enquiry.common["enquiry_id"] = k6.contact_id
        await m.feed(
            [
                k3.breached(stopped_at=june + timedelta(days=2)),
                k6_enquiry.resolved(june + timedelta(days=3), first_point=False),
                k1.met(june - timedelta(hours=2)),
            ]
        )
        assert await open_clocks() == {str(k7.clock_id), str(k8.clock_id)}
        again = await m.get("/v1/sla/compliance", period="2015-16", service_area=area)
        assert {r["commitment"]: (r["met"], r["breached"]) for r in again["rows"]} == {
            "email-acknowledge": (2, 2),
            "email-respond": (1, 1),
            "phone-answer": (2, 1),
            "all": (5, 4),
        }

        # A breach whose contact had already been finished with does not open.
        k11 = Clock("email-respond", area, start, june, contact_id=k6.contact_id)
        await m.feed([k11.breached()])
        assert await open_clocks() == {str(k7.clock_id), str(k8.clock_id)}

        csv = await m.client.get(
            "/v1/breaches", params={"service_area": area, "format": "csv", "period": "2015-16"}
        )
        lines = csv.text.splitlines()
        assert lines[0] == (
            "period,clock_id,commitment,contact_type,contact_id,channel,service_area,"
            "started_at,due_at,breached_at,overdue_seconds"
        )
        assert len(lines) == 2 and str(k8.clock_id) in lines[1]

        metrics = (await m.client.get("/metrics")).text
        assert re.search(r'metrics_breaches_open\{commitment="phone-answer"\} [1-9]', metrics)
        assert f'metrics_events_applied_total{{group="{m.group}",type="sla.breached"}}' in metrics
        assert "consumer_lag{" in metrics


async def test_a_withdrawn_breach_counts_met_and_a_stopped_one_stays_breached(
    metrics_service, unique_area: str
) -> None:
    # Financial year 2014-15. Deadlines Tuesday 3 June 2014, 17:00 BST.
    area = unique_area
    due = utc("2014-06-03 16:00")
    start = due - timedelta(days=1)
    corrected, stopped, open_ = (Clock("email-acknowledge", area, start, due) for _ in range(3))
    met_only = Clock("email-acknowledge", area, start, due)
    # A complaint whose extension (made in time) was recorded after the breach: met in July.
    extended = Clock("complaint-respond", area, start, due, contact_type="complaint")
    extended_due = utc("2014-07-01 16:00")
    async with metrics_service() as m:

        async def counts(**params: str) -> dict[tuple[str, str], tuple[int, int]]:
            answer = await m.get("/v1/sla/compliance", service_area=area, **params)
            return {
                (r["start"], r["commitment"]): (r["met"], r["breached"]) for r in answer["rows"]
            }

        async def open_clocks() -> set[str]:
            answer = await m.get("/v1/breaches", service_area=area, period="2014-15")
            return {r["clock_id"] for r in answer["rows"]}

        await m.feed([c.breached() for c in (corrected, stopped, open_, extended)])
        assert (await counts(period="2014-15"))[("2014-04-01", "all")] == (0, 4)
        assert await open_clocks() == {
            str(c.clock_id) for c in (corrected, stopped, open_, extended)
        }

        correction = corrected.met(due - timedelta(hours=5), corrects_breach=True)
        await m.feed(
            [
                correction,
                correction,  # delivered twice
                stopped.stopped(due + timedelta(days=1)),
                met_only.met(due - timedelta(hours=1), corrects_breach=True),  # no breach seen
                extended.met(due + timedelta(days=10), corrects_breach=True, due_at=extended_due),
            ]
        )
        # The same correction again under another id (a republished notice) moves nothing.
        await m.feed([corrected.met(due - timedelta(hours=5), corrects_breach=True)])

        yearly = await counts(period="2014-15")
        year = "2014-04-01"
        assert yearly[(year, "email-acknowledge")] == (2, 2)  # corrected, met_only | stopped, open_
        assert yearly[(year, "complaint-respond")] == (1, 0)
        assert yearly[(year, "all")] == (3, 2)
        monthly = await counts(period="2014-15", interval="month")
        assert monthly[("2014-06-01", "all")] == (2, 2)
        assert monthly[("2014-07-01", "all")] == (1, 0)  # the extended deadline's month
        assert await open_clocks() == {str(open_.clock_id)}


async def test_a_withdrawn_breach_stops_counting_until_its_clock_is_decided_again(
    metrics_service, unique_area: str
) -> None:
    # Financial year 2013-14. A complaint's response was due Tuesday 4 June 2013, 17:00 BST;
    # the timer flagged it, then an extension agreed in time (to 2 July) was recorded: the
    # breach is withdrawn and the clock runs on. A call's short abandon was recorded after its
    # timer flagged it: withdrawn and excluded, counted neither way.
    area = unique_area
    due = utc("2013-06-04 16:00")
    new_due = utc("2013-07-02 16:00")
    start = due - timedelta(days=14)
    met_later = Clock("complaint-respond", area, start, due, contact_type="complaint")
    breached_again = Clock("complaint-respond", area, start, due, contact_type="complaint")
    abandoned = Clock(
        "phone-answer",
        area,
        due - timedelta(seconds=15),
        due,
        channel="phone",
        contact_type="call",
    )
    clocks = (met_later, breached_again, abandoned)
    async with metrics_service() as m:

        async def counts() -> dict[tuple[str, str], tuple[int, int]]:
            answer = await m.get(
                "/v1/sla/compliance", service_area=area, period="2013-14", interval="month"
            )
            return {
                (r["start"], r["commitment"]): (r["met"], r["breached"])
                for r in answer["rows"]
                if r["met"] or r["breached"]
            }

        async def open_clocks() -> set[str]:
            answer = await m.get("/v1/breaches", service_area=area)
            return {r["clock_id"] for r in answer["rows"]}

        await m.feed([c.breached() for c in clocks])
        assert (await counts())[("2013-06-01", "all")] == (0, 3)
        assert await open_clocks() == {str(c.clock_id) for c in clocks}

        withdrawn_at = utc("2013-06-10 09:00")
        await m.feed(
            [
                met_later.withdrawn("extended", withdrawn_at, due_at=new_due),
                breached_again.withdrawn("extended", withdrawn_at, due_at=new_due),
                abandoned.withdrawn("abandoned", withdrawn_at),
                abandoned.withdrawn("abandoned", withdrawn_at),  # delivered twice
            ]
        )
        # Nothing counted until the two complaints' clocks are decided again; none to chase.
        assert await counts() == {}
        assert await open_clocks() == set()

        await m.feed(
            [
                met_later.met(utc("2013-06-28 12:00"), due_at=new_due),
                breached_again.breached(due_at=new_due),
            ]
        )
        # Both now count on the extended deadline's month: one met, one breached (open).
        assert await counts() == {
            ("2013-07-01", "complaint-respond"): (1, 1),
            ("2013-07-01", "all"): (1, 1),
        }
        assert await open_clocks() == {str(breached_again.clock_id)}
