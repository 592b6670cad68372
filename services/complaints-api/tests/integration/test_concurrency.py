"""Two officers at once: one wins, the other is told why; references never collide."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

from .conftest import Api, events_of

ROUNDS = 10


async def test_two_officers_responding_at_once(api: Api, event_tap) -> None:  # type: ignore[no-untyped-def]
    async with event_tap("contact.events") as tap:
        complaint_ids = []
        for _ in range(ROUNDS):
            cid = (await api.create())["id"]
            await api.ok(cid, "acknowledge", officer="officer-a")
            complaint_ids.append(cid)
            responses = await asyncio.gather(
                api.step(cid, "respond", officer="officer-a", outcome="upheld", summary="Yes"),
                api.step(cid, "respond", officer="officer-b", outcome="not_upheld", summary="No"),
            )
            codes = sorted(r.status_code for r in responses)
            assert codes == [200, 409], [r.text for r in responses]
            loser = next(r for r in responses if r.status_code == 409).json()
            assert "already responded" in loser["detail"]
            assert loser["allowed_next"] == ["escalate", "close"]
            winner = next(r for r in responses if r.status_code == 200).json()
            detail = await api.get(cid)
            assert detail["outcome"] == winner["outcome"]
            assert [h["action"] for h in detail["history"]].count("responded") == 1

        await tap.wait_for(
            lambda _: (
                sum(e.type == "complaint.responded" for e in events_of(tap, complaint_ids))
                >= ROUNDS
            ),
            timeout=60,
        )
        responded = Counter(
            e.subject for e in events_of(tap, complaint_ids) if e.type == "complaint.responded"
        )
        assert responded == dict.fromkeys(complaint_ids, 1)


async def test_references_are_unique_under_concurrency(api: Api) -> None:
    created = await asyncio.gather(*(api.create() for _ in range(20)))
    year = datetime.now(UTC).year
    references = sorted(c["reference"] for c in created)
    # Consecutive too, as nothing rolled back (a rollback spends its number: docs/decisions.md).
    assert references == [f"CMP-{year}-{n:06d}" for n in range(1, 21)]
    backdated = await api.create(received_at="2025-06-02T09:00:00+01:00")
    assert backdated["reference"] == "CMP-2025-000001"
