"""Corrections and voids fed through the real broker: a contact's counts move between channels,
days and months (daily tables and monthly roll-ups alike) and a void takes them out, exactly.
Financial year 2009-10 and a service area of its own belong to this test.

  2009-05-31 10:00 UTC = 11:00 BST Sunday 31 May 2009
  2009-06-01 09:00 UTC = 10:00 BST Monday 1 June 2009
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from builders import Enquiry, utc  # noqa: E402


async def test_corrections_move_counts_and_voids_remove_them(
    metrics_service, unique_area: str
) -> None:
    area = unique_area
    e1 = Enquiry("email", area, utc("2009-05-31 10:00"))
    e2 = Enquiry("portal", area, utc("2009-06-10 10:00"))
    e3 = Enquiry("web_form", area, utc("2009-06-11 10:00"))
    opening = [
        e1.opened(),
        e1.resolved(utc("2009-05-31 11:00"), first_point=True),
        e2.opened(),
        e3.opened(),
    ]

    async with metrics_service() as m:

        async def figures(start: str, end: str) -> dict[str, Any]:
            window = {"from": start, "to": end, "service_area": area}
            card = await m.get("/v1/scorecard", **window)
            rows = {r["kpi"]: (r["numerator"], r["denominator"]) for r in card["rows"]}
            channels = await m.get("/v1/channels", **window)
            by_channel = {r["channel"]: r["enquiries"] for r in channels["rows"] if r["enquiries"]}
            return {"CX03": rows["CX03"], "CX04-all": rows["CX04-all"], "channels": by_channel}

        await m.feed(opening)
        # Whole months read the monthly roll-ups; a window across the boundary, the days.
        assert await figures("2009-05-01", "2009-05-31") == {
            "CX03": (0, 1),
            "CX04-all": (1, 1),
            "channels": {"email": 1, "all": 1},
        }
        assert await figures("2009-06-01", "2009-06-30") == {
            "CX03": (1, 2),
            "CX04-all": (0, 2),
            "channels": {"portal": 1, "web_form": 1, "all": 2},
        }

        # e1 was a letter received on Monday 1 June: it leaves May and email, whole, resolution
        # and first point with it; delivered twice, it moves once.
        correction = e1.corrected(
            utc("2009-06-20 10:00"), channel="letter", received_at=utc("2009-06-01 09:00")
        )
        await m.feed([correction, correction])
        assert await figures("2009-05-01", "2009-05-31") == {
            "CX03": (0, 0),
            "CX04-all": (0, 0),
            "channels": {},
        }
        assert await figures("2009-06-01", "2009-06-30") == {
            "CX03": (1, 3),
            "CX04-all": (1, 3),
            "channels": {"letter": 1, "portal": 1, "web_form": 1, "all": 3},
        }
        assert (await figures("2009-05-31", "2009-06-01"))["channels"] == {"letter": 1, "all": 1}

        # e3 was a test: it leaves every figure, and what arrives of it later counts nothing.
        await m.feed([e3.voided(utc("2009-06-21 10:00"))])
        await m.feed([e3.resolved(utc("2009-06-22 10:00"), first_point=True)])
        assert await figures("2009-06-01", "2009-06-30") == {
            "CX03": (1, 2),
            "CX04-all": (1, 2),
            "channels": {"letter": 1, "portal": 1, "all": 2},
        }
        year = await m.get("/v1/scorecard", period="2009-10", service_area=area)
        cx03 = next(r for r in year["rows"] if r["kpi"] == "CX03")
        assert (cx03["numerator"], cx03["denominator"]) == (1, 2)
