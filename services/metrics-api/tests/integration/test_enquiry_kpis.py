"""CX03 and CX04 from enquiries fed through the real broker: the financial year boundary at
midnight BST, the clock changes, first point resolution with a reopen, a late resolution, and
the same events delivered twice. Every figure is worked out by hand below.

Local dates (Europe/London) of the instants used, worked out from the UK clock rules (BST from
01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of October):
  2011-03-27 00:30 UTC = 00:30 GMT 27 March (the clocks go forward at 01:00 UTC that day)
  2011-03-27 01:30 UTC = 02:30 BST 27 March
  2011-03-31 22:30 UTC = 23:30 BST 31 March 2011 -> financial year 2010-11
  2011-03-31 23:30 UTC = 00:30 BST  1 April 2011 -> financial year 2011-12
  2011-10-29 22:30 UTC = 23:30 BST 29 October
  2011-10-29 23:30 UTC = 00:30 BST 30 October (the clocks go back at 01:00 UTC on the 30th)
  2011-10-30 00:30 UTC = 01:30 BST 30 October (the first of the two 01:30s)
  2011-10-30 23:30 UTC = 23:30 GMT 30 October
  2012-03-31 22:30 UTC = 23:30 BST 31 March 2012 -> 2011-12 (BST began 25 March 2012)
  2012-03-31 23:30 UTC = 00:30 BST  1 April 2012 -> 2012-13
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from builders import Enquiry, utc  # noqa: E402


def _row(rows: list[dict], **match: object) -> dict:
    found = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]


async def test_enquiry_kpis_across_the_year_end_and_clock_changes(
    metrics_service, unique_area: str
) -> None:
    area = unique_area
    targets = {
        "CX03": {"2011-12": 39.0},
        "CX04": {"2011-12": 90.0},
        "CX04-all": {"2011-12": 50.0},
        "CX02": {"2011-12": 4.2},
    }
    p1 = Enquiry("portal", area, utc("2011-03-31 23:30"))  # 1 April 2011: 2011-12
    p2 = Enquiry("portal", area, utc("2011-06-10 09:00"))
    p3 = Enquiry("portal", area, utc("2011-10-29 23:30"))  # 30 October
    h1 = Enquiry("phone", area, utc("2011-10-30 00:30"))  # 30 October
    h2 = Enquiry("phone", area, utc("2011-10-30 23:30"))  # 30 October
    h3 = Enquiry("phone", area, utc("2012-03-31 22:30"))  # 31 March 2012: 2011-12
    e1 = Enquiry("email", area, utc("2011-10-29 22:30"))  # 29 October
    e2 = Enquiry("email", area, utc("2011-12-01 10:00"))  # seen first by its resolution
    x1 = Enquiry("portal", area, utc("2012-03-31 23:30"))  # 1 April 2012: 2012-13
    x2 = Enquiry("phone", area, utc("2011-03-31 22:30"))  # 31 March 2011: 2010-11
    x3 = Enquiry("email", area, utc("2011-03-27 00:30"))  # 27 March 2011 (GMT)
    x4 = Enquiry("email", area, utc("2011-03-27 01:30"))  # 27 March 2011 (BST)
    x5 = Enquiry("portal", area, utc("2010-05-05 12:00"))  # 2010-11

    first = [
        p1.opened(),
        p1.resolved(utc("2011-04-01 09:00"), first_point=True),
        p2.opened(),
        p2.resolved(utc("2011-06-10 09:05"), first_point=True),
        p2.reopened(utc("2011-06-12 10:00")),
        p2.resolved(utc("2011-06-14 10:00"), first_point=False),
        p3.opened(),
        h1.opened(),
        h1.acknowledged(utc("2011-10-30 00:31")),
        h1.resolved(utc("2011-10-30 00:40"), first_point=True),
        h2.opened(),
        h2.resolved(utc("2011-11-02 10:00"), first_point=False),
        h3.opened(),
        e1.opened(),
        e1.resolved(utc("2011-11-01 10:00"), first_point=False),
        e2.resolved(utc("2011-12-01 10:10"), first_point=True),
        x1.opened(),
        x2.opened(),
        x2.resolved(utc("2011-03-31 22:35"), first_point=True),
        x3.opened(),
        x4.opened(),
        x5.opened(),
    ]
    async with metrics_service(targets=targets) as m:
        await m.feed(first)
        # FY 2011-12: opened p1 p2 p3 h1 h2 h3 e1 e2 = 8, by portal p1 p2 p3 = 3.
        # First point: p1, h1, e2 = 3 (p2 was reopened). Calls (phone): h1 h2 h3 = 3, h1 = 1.
        card = await m.get("/v1/scorecard", period="2011-12", service_area=area)
        rows = {r["kpi"]: r for r in card["rows"]}
        assert card["period"] == {
            "label": "2011-12",
            "kind": "financial_year",
            "start": "2011-04-01",
            "end": "2012-03-31",
            "financial_year": "2011-12",
        }
        assert (rows["CX03"]["numerator"], rows["CX03"]["denominator"]) == (3, 8)
        assert rows["CX03"]["actual"] == 37.5
        assert (rows["CX04"]["numerator"], rows["CX04"]["denominator"]) == (1, 3)
        assert rows["CX04"]["actual"] == 33.33
        assert (rows["CX04-all"]["numerator"], rows["CX04-all"]["denominator"]) == (3, 8)
        assert rows["CX04-all"]["actual"] == 37.5

        # The late resolution of h3 (in April 2012) counts with the year it was received in,
        # and the same events again (and a second resolution of p1) change nothing.
        late = [
            h3.resolved(utc("2012-04-02 09:00"), first_point=True),
            p1.resolved(utc("2011-04-02 09:00"), first_point=True),
        ]
        await m.feed([*first, *late, *late])

        card = await m.get("/v1/scorecard", period="2011-12", service_area=area)
        rows = {r["kpi"]: r for r in card["rows"]}
        # CX03 3/8 = 37.5% against 39%: amber (within 5% of 39 = 1.95, i.e. down to 37.05).
        assert rows["CX03"]["actual"] == 37.5
        assert rows["CX03"]["target"] == 39.0
        assert rows["CX03"]["target_year"] == "2011-12"
        assert rows["CX03"]["status"] == "amber"
        assert rows["CX03"]["status_text"] == "Near target"
        # CX04 calls: h1, h3 of h1 h2 h3 = 2/3 = 66.67% against 90%: red.
        assert (rows["CX04"]["numerator"], rows["CX04"]["denominator"]) == (2, 3)
        assert rows["CX04"]["actual"] == 66.67
        assert rows["CX04"]["status"] == "red"
        # CX04 all channels: p1 h1 h3 e2 = 4/8 = 50% against 50%: green.
        assert (rows["CX04-all"]["numerator"], rows["CX04-all"]["denominator"]) == (4, 8)
        assert rows["CX04-all"]["actual"] == 50.0
        assert rows["CX04-all"]["status"] == "green"
        assert rows["CX02"]["status"] == "no_data"
        assert rows["CX02"]["actual"] is None
        assert rows["CX06-stage_1"]["status"] == "no_target"

        # Quarters: Q1 (April-June 2011) has p1 p2, both portal: 100%; Q3 (October-December)
        # has p3 h1 h2 e1 e2: portal 1/5 = 20%, first point h1 e2 = 40%.
        q1 = await m.get("/v1/kpis", period="2011-12-Q1", service_area=area)
        assert _row(q1["rows"], kpi="CX03")["value"] == 100.0
        q3 = await m.get("/v1/kpis", period="2011-12-Q3", service_area=area)
        assert q3["period"]["start"] == "2011-10-01" and q3["period"]["end"] == "2011-12-31"
        assert (
            _row(q3["rows"], kpi="CX03")["numerator"],
            _row(q3["rows"], kpi="CX03")["denominator"],
        ) == (1, 5)
        assert _row(q3["rows"], kpi="CX03")["value"] == 20.0
        assert _row(q3["rows"], kpi="CX04-all")["value"] == 40.0

        # By channel for the year: first point per channel: portal p1 of 3 = 33.33%, phone
        # 2/3 = 66.67%, email e2 of e1 e2 = 50%.
        by_channel = await m.get("/v1/kpis", period="2011-12", service_area=area, by="channel")
        assert _row(by_channel["rows"], kpi="CX04-all", channel="portal")["value"] == 33.33
        assert _row(by_channel["rows"], kpi="CX04-all", channel="phone")["value"] == 66.67
        assert _row(by_channel["rows"], kpi="CX04-all", channel="email")["value"] == 50.0

        # Local days either side of the clock changes.
        async def enquiries_on(day: str) -> dict[str, int]:
            answer = await m.get("/v1/channels", service_area=area, **{"from": day, "to": day})
            return {r["channel"]: r["enquiries"] for r in answer["rows"] if r["enquiries"]}

        assert await enquiries_on("2011-10-29") == {"email": 1, "all": 1}
        assert await enquiries_on("2011-10-30") == {"portal": 1, "phone": 2, "all": 3}
        assert await enquiries_on("2011-03-27") == {"email": 2, "all": 2}
        assert await enquiries_on("2011-03-31") == {"phone": 1, "all": 1}
        assert await enquiries_on("2011-04-01") == {"portal": 1, "all": 1}
        assert await enquiries_on("2012-03-31") == {"phone": 1, "all": 1}
        assert await enquiries_on("2012-04-01") == {"portal": 1, "all": 1}

        # Channel shift against 2010-11 (x2 phone, x3 x4 email, x5 portal). Enquiries by email
        # and portal are contacts; phone contacts are calls (none here).
        shift = await m.get("/v1/channels", period="2011-12", service_area=area)
        assert shift["previous_period"]["label"] == "2010-11"
        portal = _row(shift["rows"], channel="portal")
        assert (portal["contacts"], portal["previous_contacts"]) == (3, 1)
        assert portal["change_percent"] == 200.0
        assert portal["cost"] == 0.39 and portal["previous_cost"] == 0.13
        email = _row(shift["rows"], channel="email")
        assert (email["contacts"], email["previous_contacts"], email["change_percent"]) == (
            2,
            2,
            0.0,
        )
        assert email["cost"] == 3.4
        phone = _row(shift["rows"], channel="phone")
        assert (phone["contacts"], phone["enquiries"]) == (0, 3)
        total = _row(shift["rows"], channel="all")
        # 5 contacts (3 portal + 2 email) against 3: +66.67%; cost 0.39 + 3.40 = 3.79.
        assert (total["contacts"], total["previous_contacts"]) == (5, 3)
        assert total["change_percent"] == 66.67
        assert total["cost"] == 3.79 and total["previous_cost"] == 3.53
        assert portal["share_percent"] == 60.0

        # The score card as CSV: a header row and one line per KPI, as a spreadsheet reads it.
        csv = await m.client.get(
            "/v1/scorecard", params={"period": "2011-12", "service_area": area, "format": "csv"}
        )
        assert csv.status_code == 200
        assert csv.headers["content-type"] == "text/csv; charset=utf-8"
        lines = csv.text.splitlines()
        assert lines[0] == (
            "period,kpi,title,unit,direction,target,target_year,actual,numerator,"
            "denominator,status,status_text"
        )
        assert (
            "2011-12,CX03,Enquiries submitted via the portal,percent,higher_is_better,"
            "39,2011-12,37.5,3,8,amber,Near target"
        ) in lines
        assert len(lines) == 1 + len(rows)
