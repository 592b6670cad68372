"""CX02 (online satisfaction), CX06 (complaints fully upheld, by stage), extensions and reception
waits, fed through the real broker; financial year 2014-15 belongs to this test alone.
2015-03-31 23:30 UTC is 00:30 BST 1 April 2015 (BST began 29 March 2015): 2015-16."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from builders import Complaint, feedback, utc, visit  # noqa: E402


async def test_satisfaction_complaints_and_reception(metrics_service, unique_area: str) -> None:
    area = unique_area
    day = utc("2014-05-01 10:00")
    c1, c2, c3, c4, c5, c6 = (Complaint(area, day) for _ in range(6))
    events = [
        feedback("portal", 5, day, area=area),
        feedback("portal", 4, day, area=area),
        feedback("web_form", 3, day, area=area),
        feedback("email", 1, day, area=area),  # not an online service: not in CX02
        *(c.received() for c in (c1, c2, c3, c4, c5, c6)),
        c1.responded("stage_1", "upheld", utc("2014-05-10 10:00")),
        c2.responded("stage_1", "not_upheld", utc("2014-05-10 10:00")),
        c2.escalated("stage_2", utc("2014-05-12 10:00")),
        c2.responded("stage_2", "upheld", utc("2014-06-01 10:00")),
        c2.escalated("ombudsman", utc("2014-06-05 10:00")),
        c2.closed_by_ombudsman("upheld", utc("2014-09-01 10:00")),
        c3.extended("stage_1", utc("2014-05-08 10:00")),
        c3.extended("stage_1", utc("2014-05-09 10:00")),  # a second extension: counted once
        c3.responded("stage_1", "partly_upheld", utc("2014-05-20 10:00")),
        c4.responded("stage_1", "upheld", utc("2014-05-10 10:00")),
        c4.responded("stage_1", "upheld", utc("2014-05-11 10:00")),  # repeated: counted once
        c5.responded("stage_1", "not_upheld", utc("2014-05-10 10:00")),
        c5.escalated("stage_2", utc("2014-05-12 10:00")),
        c5.responded("stage_2", "not_upheld", utc("2014-06-01 10:00")),
        c6.responded("stage_1", "upheld", utc("2015-03-31 23:30")),  # decided in 2015-16
        *visit(utc("2014-07-01 10:00"), 60, area=area),
        *visit(utc("2014-07-01 10:00"), 240, area=area),
        *visit(utc("2014-07-01 10:00"), 300, area=area),
        *visit(utc("2014-07-01 10:00"), 301, area=area),
        *visit(utc("2014-07-01 10:00"), None, area=area),  # still waiting
    ]
    targets = {
        "CX02": {"2014-15": 4.2},
        "CX06-stage_1": {"2014-15": 35.0},
        "CX06-stage_2": {"2014-15": 35.0},
        "CX06-ombudsman": {"2014-15": 35.0},
    }
    async with metrics_service(targets=targets) as m:
        await m.feed(events)
        await m.feed(events[:10])

        card = await m.get("/v1/scorecard", period="2014-15", service_area=area)
        rows = {r["kpi"]: r for r in card["rows"]}
        # CX02: (5 + 4 + 3) / 3 = 4.0 against 4.2: amber (within 5%: down to 3.99).
        assert (rows["CX02"]["numerator"], rows["CX02"]["denominator"]) == (12, 3)
        assert (rows["CX02"]["actual"], rows["CX02"]["status"]) == (4.0, "amber")
        # Stage one decisions in 2014-15: c1 c2 c3 c4 c5 (c6 was decided on 1 April 2015);
        # fully upheld c1 c4: 2 / 5 = 40% against 35% (lower is better; amber up to 36.75): red.
        s1 = rows["CX06-stage_1"]
        assert (s1["numerator"], s1["denominator"], s1["actual"]) == (2, 5, 40.0)
        assert s1["status"] == "red"
        # Stage two: c2 upheld, c5 not: 1 / 2 = 50%. Ombudsman: c2 upheld: 1 / 1 = 100%.
        s2 = rows["CX06-stage_2"]
        assert (s2["numerator"], s2["denominator"], s2["actual"]) == (1, 2, 50.0)
        ombudsman = rows["CX06-ombudsman"]
        assert (ombudsman["numerator"], ombudsman["denominator"], ombudsman["actual"]) == (
            1,
            1,
            100.0,
        )

        next_year = await m.get("/v1/scorecard", period="2015-16", service_area=area)
        s1_next = next(r for r in next_year["rows"] if r["kpi"] == "CX06-stage_1")
        assert (s1_next["numerator"], s1_next["denominator"]) == (1, 1)

        kpis = await m.get("/v1/kpis", period="2014-15", service_area=area)
        named = {r["kpi"]: r for r in kpis["rows"]}
        assert named["complaints-received"]["value"] == 6
        assert named["complaint-extensions"]["value"] == 1
        assert named["feedback-responses"]["value"] == 4
        # Reception: seen 4, within 5 minutes 60, 240, 300 = 3 -> 75%; mean 901 / 4 = 225.25.
        assert (
            named["reception-attend"]["numerator"],
            named["reception-attend"]["denominator"],
        ) == (3, 4)
        assert named["reception-attend"]["value"] == 75.0
        assert named["visit-wait-mean"]["value"] == 225.25

        by_channel = await m.get("/v1/kpis", period="2014-15", service_area=area, by="channel")
        cx02 = {r["channel"]: r["value"] for r in by_channel["rows"] if r["kpi"] == "CX02"}
        assert cx02 == {"portal": 4.5, "web_form": 3.0}

        channels = await m.get("/v1/channels", period="2014-15", service_area=area)
        face = next(r for r in channels["rows"] if r["channel"] == "face_to_face")
        # Five visitors at £9.57 = £47.85.
        assert (face["contacts"], face["cost"]) == (5, 47.85)
