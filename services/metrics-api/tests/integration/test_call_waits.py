"""Call waits, service level and abandonment from calls fed through the real broker, against
figures worked out by hand; financial year 2013-14 belongs to this test alone.

Local dates: BST ran from 01:00 UTC 31 March 2013 to 01:00 UTC 27 October 2013, and again from
30 March 2014. So 2013-03-31 23:30 UTC is 00:30 BST 1 April 2013 (in 2013-14), 2013-09-30 23:30
UTC is 00:30 BST 1 October, 2013-10-31 23:30 UTC is 23:30 GMT 31 October, and 2014-03-31 23:30
UTC is 00:30 BST 1 April 2014 (2014-15). 11 June 2013 was a Tuesday: 09:00 UTC is 10:00 BST, in
office hours; 17:30 UTC is 18:30 BST, after closing.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from builders import abandoned_call, answered_call, utc  # noqa: E402


async def test_wait_times_service_level_and_abandonment(metrics_service, unique_area: str) -> None:
    area = unique_area
    office = utc("2013-06-11 09:00")
    events = []
    for i, wait in enumerate([5, 10, 15, 20, 30, 45, 60, 120, 300, 700]):
        events += answered_call(office + timedelta(minutes=i), wait, area=area)
    for i, wait in enumerate([8, 15, 40]):  # two short abandons (within 15 s), one not
        events += abandoned_call(office + timedelta(minutes=20 + i), wait, area=area)
    events += answered_call(utc("2013-06-11 17:30"), 3, area=area)  # out of office hours
    events += answered_call(utc("2013-03-31 23:30"), 1, area=area)  # 1 April 2013
    events += answered_call(utc("2013-09-30 23:30"), 2, area=area)  # 1 October 2013
    events += answered_call(utc("2013-10-31 23:30"), 4, area=area)  # 31 October 2013
    events += answered_call(utc("2014-03-31 23:30"), 6, area=area)  # 1 April 2014: 2014-15
    events += answered_call(office, 50, area=area, channel="standby")
    targets = {"call-wait-mean": {"2013-14": 90.0}, "call-wait-max": {"2013-14": 600.0}}

    async with metrics_service(targets=targets) as m:
        await m.feed(events)
        await m.feed(events)  # delivered twice: nothing changes

        year = await m.get("/v1/calls/wait-times", period="2013-14")
        assert len(year["rows"]) == 1
        row = year["rows"][0]
        # Answered in 2013-14: 1, 2, 3, 4, 5, 10, 15, 20, 30, 45, 60, 120, 300, 700 (14 calls,
        # 1315 s). Mean 1315 / 14 = 93.93. Median: ranks 7 and 8 of 14, (15 + 20) / 2 = 17.5.
        # 90th percentile: rank 1 + 13 x 0.9 = 12.7, 120 + 0.7 x (300 - 120) = 246.
        assert (row["offered"], row["answered"], row["abandoned"]) == (17, 14, 3)
        assert row["short_abandoned"] == 2
        assert row["mean_wait_seconds"] == 93.93
        assert row["median_wait_seconds"] == 17.5
        assert row["p90_wait_seconds"] == 246.0
        assert row["max_wait_seconds"] == 700.0
        # Service level, office hours only: answered 10 + abandoned after 15 s 1 = 11 calls,
        # answered within 15 s: 5, 10, 15 = 3 -> 27.27%. Abandonment 3 / 17 = 17.65%.
        assert (row["service_level_calls"], row["answered_within_target"]) == (11, 3)
        assert row["service_level_percent"] == 27.27
        assert row["abandonment_rate_percent"] == 17.65
        assert (row["mean_target_seconds"], row["max_target_seconds"]) == (90.0, 600.0)

        months = await m.get("/v1/calls/wait-times", period="2013-14", interval="month")
        by_month = {r["start"]: r for r in months["rows"]}
        assert len(by_month) == 12
        assert (by_month["2013-04-01"]["answered"], by_month["2013-04-01"]["max_wait_seconds"]) == (
            1,
            1.0,
        )
        june = by_month["2013-06-01"]
        assert (june["offered"], june["answered"], june["abandoned"]) == (14, 11, 3)
        # June: 3, 5, 10, 15, 20, 30, 45, 60, 120, 300, 700: median the 6th, 30; mean 1308/11.
        assert june["median_wait_seconds"] == 30.0
        assert june["mean_wait_seconds"] == 118.91
        # 90th percentile: rank 1 + 10 x 0.9 = 10, the 10th wait: 300.
        assert june["p90_wait_seconds"] == 300.0
        october = by_month["2013-10-01"]
        # 2 s and 4 s: mean 3, median 3, 90th percentile 2 + 0.9 x 2 = 3.8.
        assert (october["answered"], october["mean_wait_seconds"]) == (2, 3.0)
        assert (october["median_wait_seconds"], october["p90_wait_seconds"]) == (3.0, 3.8)
        assert by_month["2013-09-01"]["answered"] == 0
        assert by_month["2013-09-01"]["mean_wait_seconds"] is None
        assert by_month["2014-03-01"]["answered"] == 0

        # Days either side of the October clock change and the year end.
        first = await m.get("/v1/calls/wait-times", **{"from": "2013-10-01", "to": "2013-10-01"})
        assert first["rows"][0]["answered"] == 1
        april = await m.get("/v1/calls/wait-times", period="2014-15-Q1")
        assert april["rows"][0]["answered"] == 1
        assert april["rows"][0]["max_wait_seconds"] == 6.0

        standby = await m.get("/v1/calls/wait-times", period="2013-14", channel="standby")
        assert standby["rows"][0]["answered"] == 1
        assert standby["rows"][0]["mean_wait_seconds"] == 50.0

        # The score card: mean 93.93 s against 90 s is amber (within 5%: up to 94.5 s); the
        # longest, 700 s against 10 minutes, is red.
        card = await m.get("/v1/scorecard", period="2013-14", service_area=area)
        rows = {r["kpi"]: r for r in card["rows"]}
        assert (rows["call-wait-mean"]["actual"], rows["call-wait-mean"]["status"]) == (
            93.93,
            "amber",
        )
        assert (rows["call-wait-max"]["actual"], rows["call-wait-max"]["status"]) == (700.0, "red")
        assert rows["call-wait-max"]["direction"] == "lower_is_better"

        kpis = await m.get("/v1/kpis", period="2013-14", service_area=area)
        named = {r["kpi"]: r for r in kpis["rows"]}
        assert named["service-level"]["value"] == 27.27
        assert named["abandonment-rate"]["value"] == 17.65
        assert named["calls-offered"]["value"] == 17

        # Phone contacts in the channel mix: 17 calls at £2.90 = £49.30.
        channels = await m.get("/v1/channels", period="2013-14", service_area=area)
        phone = next(r for r in channels["rows"] if r["channel"] == "phone")
        assert (phone["contacts"], phone["cost"]) == (17, 49.3)

        csv = await m.client.get(
            "/v1/calls/wait-times", params={"period": "2013-14", "format": "csv"}
        )
        lines = csv.text.splitlines()
        assert lines[0].startswith("period,channel,start,end,offered,answered,abandoned")
        assert lines[1].startswith("2013-14,phone,2013-04-01,2014-03-31,17,14,3,2,17.65,11,3,")
