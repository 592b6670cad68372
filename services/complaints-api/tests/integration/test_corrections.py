"""Corrections and voids of complaints over real HTTP, PostgreSQL and the broker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from complaints_api.config import Settings
from contact_common.calendar import WorkingCalendar
from contact_common.commitments.complaints import deadlines_started
from contact_common.events import ComplaintStage

from .conftest import Api, raw_bytes_of, wait_for_types


def days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


async def test_a_correction_moves_stage_1_deadlines_and_is_published(  # type: ignore[no-untyped-def]
    api: Api, event_tap
) -> None:
    async with event_tap("contact.events") as tap:
        created = await api.create(received_at=days_ago(1).isoformat(), channel="email")
        cid = created["id"]
        corrected_at = days_ago(6).replace(microsecond=0)
        response = await api.client.patch(
            f"/v1/complaints/{cid}",
            json={
                "received_at": corrected_at.isoformat(),
                "channel": "letter",
                "service_area": "housing",
                "reason": "the letter sat in the post room; Mr Quill rang to say so",
            },
            headers=api.writer,
        )
        assert response.status_code == 200, response.text
        events = await wait_for_types(tap, cid, ["complaint.received", "complaint.corrected"])
        raw = raw_bytes_of(tap, [cid])

    corrected = response.json()
    assert (corrected["channel"], corrected["service_area"]) == ("letter", "housing")
    assert datetime.fromisoformat(corrected["received_at"]) == corrected_at
    assert corrected["correction_count"] == 1
    # Stage 1's deadlines count from the corrected receipt, as sla-monitor's clocks will.
    settings = Settings()
    calendar: WorkingCalendar = settings.calendar
    expected = deadlines_started(
        settings.commitments,
        calendar,
        step="complaint.received",
        at=corrected_at,
        stage=ComplaintStage.stage_1,
        channel="letter",  # type: ignore[arg-type]
        extension_working_days=None,
    )
    stage_1 = corrected["stages"][0]
    assert datetime.fromisoformat(stage_1["started_at"]) == corrected_at
    assert datetime.fromisoformat(stage_1["acknowledge_due_at"]) == expected.acknowledge
    data = events[1].data
    assert data.previous_channel == "email" and data.channel == "letter"  # type: ignore[attr-defined]
    assert data.received_at == corrected_at
    assert all(b"Quill" not in message for message in raw)
    entry = corrected["history"][-1]
    assert entry["action"] == "corrected"
    assert entry["details"]["changes"]["channel"] == {"from": "email", "to": "letter"}
    assert entry["details"]["reason"].startswith("the letter sat")

    # Erasure removes the words given as the reason, keeps the changes.
    erased = await api.client.post(f"/v1/complaints/{cid}/erase", headers=api.eraser)
    assert erased.status_code == 200
    assert "reason" not in erased.json()["history"][-2]["details"]
    assert "changes" in erased.json()["history"][-2]["details"]


async def test_a_correction_after_the_first_step_or_in_the_future_is_422(api: Api) -> None:
    created = await api.create(received_at=days_ago(2).isoformat())
    cid = created["id"]
    await api.ok(cid, "acknowledge", officer="officer-a", at=days_ago(1).isoformat())
    for received_at in (days_ago(0.5), datetime.now(UTC) + timedelta(days=3)):
        response = await api.client.patch(
            f"/v1/complaints/{cid}",
            json={"received_at": received_at.isoformat(), "reason": "x"},
            headers=api.writer,
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"][0]["field"] == "body.received_at"
    empty = await api.client.patch(
        f"/v1/complaints/{cid}", json={"reason": "x"}, headers=api.writer
    )
    assert empty.status_code == 422


async def test_a_voided_complaint_takes_no_further_steps(api: Api, event_tap) -> None:  # type: ignore[no-untyped-def]
    original = await api.create()
    async with event_tap("contact.events") as tap:
        duplicate = await api.create()
        cid = duplicate["id"]
        missing = await api.step(
            cid, "void", reason_code="duplicate", reason="x", duplicate_of=str(uuid.uuid4())
        )
        assert missing.status_code == 422
        voided = await api.ok(
            cid, "void", reason_code="duplicate", reason="sent twice", duplicate_of=original["id"]
        )
        events = await wait_for_types(tap, cid, ["complaint.received", "complaint.voided"])

    assert voided["status"] == "voided"
    assert voided["allowed_next"] == []
    assert voided["due_at"] is None
    assert voided["duplicate_of"] == original["id"]
    assert voided["void_reason"] == "sent twice"
    assert events[1].data.cause == "duplicate"  # type: ignore[attr-defined]
    refused = await api.step(cid, "acknowledge", officer="officer-a")
    assert refused.status_code == 409
    assert refused.json()["complaint_status"] == "voided"
    again = await api.step(cid, "void", reason_code="test", reason="again")
    assert again.status_code == 409
    assert again.json()["type"].endswith("complaint-voided")
