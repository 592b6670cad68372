"""Every complaint read and list carries its next due commitment, from the policy in force."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .conftest import Api


def days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


async def test_next_due_follows_the_stage(api: Api) -> None:
    fresh = await api.create(received_at=days_ago(1 / 48))  # 30 minutes ago
    stage = fresh["stages"][0]
    assert fresh["next_due"] == {
        "commitment": "complaint-acknowledge",
        "due_at": stage["acknowledge_due_at"],
        "status": "open",
    }

    # Received 40 days ago: its acknowledgement and response are both overdue.
    late = await api.create(received_at=days_ago(40))
    cid = late["id"]
    assert late["next_due"]["commitment"] == "complaint-acknowledge"
    assert late["next_due"]["status"] == "breached"
    acknowledged = await api.ok(cid, "acknowledge", officer="officer-a")
    assert acknowledged["next_due"] == {
        "commitment": "complaint-respond",
        "due_at": acknowledged["due_at"],
        "status": "breached",
    }
    listed = await api.client.get("/v1/complaints", headers=api.writer)
    assert listed.status_code == 200, listed.text
    by_id = {item["id"]: item for item in listed.json()["items"]}
    assert by_id[cid]["next_due"] == acknowledged["next_due"]
    assert by_id[fresh["id"]]["next_due"] == fresh["next_due"]

    responded = await api.ok(
        cid, "respond", officer="officer-a", outcome="not_upheld", summary="Collected since."
    )
    assert responded["next_due"] is None
    assert (await api.get(cid))["next_due"] is None
