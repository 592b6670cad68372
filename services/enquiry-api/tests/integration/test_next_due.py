"""Every enquiry read and list carries its next due commitment, from the one policy source."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx

from contact_common.calendar import WorkingCalendar

NewEnquiry = Callable[..., Awaitable[dict[str, object]]]


async def test_next_due_follows_the_enquiry_through_its_life(
    admin: httpx.AsyncClient, new_enquiry: NewEnquiry
) -> None:
    # An email received Monday 2 March 2026 10:00 (GMT): acknowledgement due Tuesday 17:00.
    enquiry = await new_enquiry()
    url = f"/v1/enquiries/{enquiry['id']}"
    assert enquiry["next_due"] == {
        "commitment": "email-acknowledge",
        "due_at": "2026-03-03T17:00:00Z",
        "status": "breached",
    }

    async def step(action: str, **body: object) -> dict:
        response = await admin.post(f"{url}/{action}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    acknowledged = await step("acknowledge", at="2026-03-02T11:00:00+00:00")
    assert acknowledged["next_due"] == {
        "commitment": "email-respond",
        "due_at": "2026-03-05T17:00:00Z",
        "status": "breached",
    }
    read = (await admin.get(url)).json()
    assert read["next_due"] == acknowledged["next_due"]
    listed = (await admin.get("/v1/enquiries", params={"limit": 200})).json()["items"]
    assert next(i for i in listed if i["id"] == enquiry["id"])["next_due"] == read["next_due"]

    assert (await step("respond"))["next_due"] is None
    assert (await step("resolve", first_point=False))["next_due"] is None
    # Reopened: a new response clock from the reopening, three working days.
    reopened = await step("reopen")
    due = WorkingCalendar().deadline(datetime.fromisoformat(reopened["reopened_at"]), 3)
    assert reopened["next_due"]["commitment"] == "email-respond"
    assert datetime.fromisoformat(reopened["next_due"]["due_at"]) == due
    assert reopened["next_due"]["status"] == "open"


async def test_a_fresh_voicemail_is_due_the_next_working_day(new_enquiry: NewEnquiry) -> None:
    received_at = datetime.now(UTC) - timedelta(minutes=5)
    enquiry = await new_enquiry(channel="voicemail", received_at=received_at.isoformat())
    due = enquiry["next_due"]
    assert due["commitment"] == "voicemail-respond" and due["status"] == "open"
    assert datetime.fromisoformat(due["due_at"]) == WorkingCalendar().deadline(received_at, 1)
    # A phone enquiry has no enquiry commitment in the default policy.
    phone = await new_enquiry(channel="phone")
    assert phone["next_due"] is None
