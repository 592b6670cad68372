"""complaints-api's due dates under the Complaint Handling Code: counted from acknowledgement.

The deadlines here are the commitments policy's (libs/common), the same sla-monitor's clocks
keep: acknowledged within 5 working days, answered 10 working days after the acknowledgement at
stage 1 and 20 at stage 2, extended once from the deadline it replaces, by no more than 10
working days at stage 1 and 20 at stage 2.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from complaints_api.config import Settings
from complaints_api.main import create_app
from contact_common.calendar import WorkingCalendar
from contact_common.events import ComplaintExtended
from contact_devtools.testing import running_service

from .conftest import Api, wait_for_types

CALENDAR = WorkingCalendar()


def due(started_at: datetime, working_days: int) -> datetime:
    return CALENDAR.deadline(started_at, working_days)


@pytest.fixture
async def code_api(
    database_url: str,
    kafka_bootstrap: str,
    api_keys_file: Path,
    issue_api_key: Callable[..., str],
) -> AsyncIterator[Api]:
    """complaints-api keeping the Complaint Handling Code."""
    writer = issue_api_key("complaints:read", "complaints:write", name="officer-app")
    async with (
        running_service(
            create_app,
            Settings,
            service="complaints-api",
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            api_keys_file=api_keys_file,
            policy="complaint-handling-code-2024",
        ) as server,
        httpx.AsyncClient(base_url=server.url, timeout=30) as client,
    ):
        headers = {"Authorization": f"Bearer {writer}"}
        yield Api(client=client, writer=headers, eraser=headers)


def at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def test_the_response_is_due_from_the_acknowledgement_at_each_stage(
    code_api: Api, event_tap
) -> None:  # type: ignore[no-untyped-def]
    # Recorded late, as a back office catching up would: every step dated in the past, so
    # nothing here depends on today's date beyond "some weeks ago".
    received = (datetime.now(UTC) - timedelta(days=70)).replace(microsecond=0)
    acknowledged = received + timedelta(days=2, hours=3)
    async with event_tap("contact.events") as tap:
        created = await code_api.create(received_at=received.isoformat())
        cid = created["id"]
        stage_1 = created["stages"][0]
        assert at(stage_1["acknowledge_due_at"]) == due(received, 5)
        # No response clock until the acknowledgement starts it.
        assert stage_1["due_at"] is None and created["due_at"] is None

        # An extension agreed before the acknowledgement waits for the clock it extends.
        early = await code_api.ok(
            cid,
            "extend",
            working_days=3,
            reason="Awaiting the contractor's report",
            at=(received + timedelta(hours=5)).isoformat(),
        )
        assert early["stages"][0]["due_at"] is None
        assert early["stages"][0]["extension_working_days"] == 3

        acked = await code_api.ok(
            cid, "acknowledge", officer="officer-a", at=acknowledged.isoformat()
        )
        respond_by = CALENDAR.extend(due(acknowledged, 10), 3)
        assert at(acked["stages"][0]["due_at"]) == respond_by
        assert at(acked["due_at"]) == respond_by

        responded = acknowledged + timedelta(days=4)
        await code_api.ok(
            cid,
            "respond",
            officer="officer-a",
            outcome="not_upheld",
            summary="No fault found",
            at=responded.isoformat(),
        )
        escalated = responded + timedelta(days=1)
        moved = await code_api.ok(cid, "escalate", reason="Disagree", at=escalated.isoformat())
        stage_2 = moved["stages"][1]
        assert at(stage_2["acknowledge_due_at"]) == due(escalated, 5)
        assert stage_2["due_at"] is None
        acknowledged_2 = escalated + timedelta(days=1)
        acked_2 = await code_api.ok(
            cid, "acknowledge", officer="officer-b", at=acknowledged_2.isoformat()
        )
        stage_2_due = due(acknowledged_2, 20)
        assert at(acked_2["stages"][1]["due_at"]) == stage_2_due

        # The Code allows up to 20 more working days at stage 2, from the deadline it replaces.
        too_long = await code_api.step(
            cid,
            "extend",
            working_days=21,
            reason="Independent review",
            at=acknowledged_2.isoformat(),
        )
        assert too_long.status_code == 422
        assert too_long.json()["errors"][0]["field"] == "body.working_days"
        assert "at most 20 working days" in too_long.json()["errors"][0]["message"]
        extended = await code_api.ok(
            cid,
            "extend",
            working_days=20,
            reason="Independent review",
            at=(acknowledged_2 + timedelta(hours=1)).isoformat(),
        )
        assert at(extended["stages"][1]["due_at"]) == CALENDAR.extend(stage_2_due, 20)

        events = await wait_for_types(
            tap,
            cid,
            [
                "complaint.received",
                "complaint.extended",
                "complaint.acknowledged",
                "complaint.responded",
                "complaint.escalated",
                "complaint.acknowledged",
                "complaint.extended",
            ],
        )
    first, second = events[1], events[6]
    assert isinstance(first, ComplaintExtended) and isinstance(second, ComplaintExtended)
    # Before the acknowledgement there was no deadline to carry; after it, the Code's.
    assert (first.data.working_days, first.data.due_at) == (3, None)
    assert second.data.due_at == CALENDAR.extend(stage_2_due, 20)


async def test_an_extension_after_the_deadline_is_refused(code_api: Api) -> None:
    received = (datetime.now(UTC) - timedelta(days=90)).replace(microsecond=0)
    created = await code_api.create(received_at=received.isoformat())
    cid = created["id"]
    acknowledged = received + timedelta(hours=2)
    acked = await code_api.ok(cid, "acknowledge", officer="officer-a", at=acknowledged.isoformat())
    deadline = at(acked["due_at"])
    assert deadline == due(acknowledged, 10)
    late = await code_api.step(
        cid,
        "extend",
        working_days=5,
        reason="Too late",
        at=(deadline + timedelta(minutes=1)).isoformat(),
    )
    assert late.status_code == 409
    problem = late.json()
    assert problem["type"].endswith("/deadline-passed")
    assert "agreed before the deadline it replaces" in problem["detail"]
    assert (await code_api.get(cid))["due_at"] == acked["due_at"]
