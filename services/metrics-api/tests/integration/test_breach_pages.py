"""The open breaches a page at a time: a cursor, and a count of them all, fed through the broker."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from builders import Clock, utc  # noqa: E402


async def test_breaches_page_by_cursor_with_a_true_count(metrics_service, unique_area: str) -> None:
    area = unique_area
    due = utc("2015-06-02 16:00")
    # Seven open breaches, two of them due at the same moment (the clock id breaks the tie).
    clocks = [
        Clock("email-acknowledge", area, due - timedelta(days=1), due + timedelta(hours=hour))
        for hour in (0, 1, 2, 2, 3, 4, 5)
    ]
    met = Clock("email-acknowledge", area, due - timedelta(days=1), due)
    async with metrics_service() as m:
        await m.feed([c.breached() for c in clocks] + [met.met(due - timedelta(hours=1))])
        everything = await m.get("/v1/breaches", service_area=area)
        assert everything["count"] == 7 and everything["next_cursor"] is None
        expected = [r["clock_id"] for r in everything["rows"]]
        assert set(expected) == {str(c.clock_id) for c in clocks}

        seen: list[str] = []
        counts: list[int] = []
        cursor = None
        while True:
            params = {"service_area": area, "limit": 3, **({"cursor": cursor} if cursor else {})}
            page = await m.get("/v1/breaches", **params)
            assert len(page["rows"]) <= 3
            seen.extend(r["clock_id"] for r in page["rows"])
            counts.append(page["count"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == expected
        assert counts == [7, 7, 7]
        bad = await m.client.get("/v1/breaches", params={"cursor": "nope"})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "query.cursor"
