"""A complaint walked through every path of the procedure over HTTP, with its events read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from complaints_api.config import Settings
from contact_common.events import (
    ComplaintClosed,
    ComplaintEscalated,
    ComplaintExtended,
    ComplaintReceived,
    ComplaintResponded,
)

from .conftest import Api, raw_bytes_of, wait_for_types

CUSTOMER = {
    "name": "Gwendolyn Featherstonehaugh",
    "email": "gwen.feather@example.org",
    "phone": "01603 555 0199",
    "address": "12 Quillpen Lane, Norwich NR1 9ZZ",
    "uprn": "100091234567",
}
DESCRIPTION = "Crews have skipped Quillpen Lane on bin day for a month."
STAGE_1_SUMMARY = "We apologise: the round was reorganised and your lane was dropped."
STAGE_2_SUMMARY = "A review found the round sheet fixed; a credit of goodwill is offered."
ESCALATION_REASON = "Still missed last Tuesday, the apology is not enough."


def assert_no_personal_data(raw: list[bytes]) -> None:
    """No customer detail or free text written about the complaint travels on the bus."""
    assert raw
    secrets = [*CUSTOMER.values(), DESCRIPTION, STAGE_1_SUMMARY, STAGE_2_SUMMARY]
    secrets += [ESCALATION_REASON, "Featherstonehaugh", "Quillpen", "555 0199"]
    for message in raw:
        for secret in secrets:
            assert secret.encode() not in message, secret


def minutes_ago(minutes: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


def history_actions(complaint: dict) -> list[str]:
    return [entry["action"] for entry in complaint["history"]]


async def test_resolved_at_stage_1(api: Api, event_tap) -> None:  # type: ignore[no-untyped-def]
    async with event_tap("contact.events") as tap:
        created = await api.create(customer=CUSTOMER, description=DESCRIPTION, channel="letter")
        cid = created["id"]
        year = datetime.now(UTC).astimezone(Settings().calendar.timezone).year
        assert created["reference"] == f"CMP-{year}-000001"
        assert (created["stage"], created["status"]) == ("stage_1", "received")
        assert created["allowed_next"] == ["acknowledge", "extend"]
        assert created["customer"]["email"] == CUSTOMER["email"]
        assert created["due_at"] == created["stages"][0]["due_at"]

        acknowledged = await api.ok(cid, "acknowledge", officer="officer-a")
        assert acknowledged["status"] == "acknowledged"
        responded = await api.ok(
            cid, "respond", officer="officer-a", outcome="upheld", summary=STAGE_1_SUMMARY
        )
        assert (responded["status"], responded["outcome"]) == ("responded", "upheld")
        assert responded["allowed_next"] == ["escalate", "close"]
        assert responded["escalate_by"] is not None
        closed = await api.ok(cid, "close", officer="officer-c", reason="Customer satisfied")
        assert (closed["status"], closed["closed_by"]) == ("closed", "officer-c")

        events = await wait_for_types(
            tap,
            cid,
            [
                "complaint.received",
                "complaint.acknowledged",
                "complaint.responded",
                "complaint.closed",
            ],
        )
        received, _, response, closing = events
        assert isinstance(received, ComplaintReceived)
        assert received.data.reference == created["reference"]
        assert received.data.channel == "letter" and received.data.service_area == "waste"
        assert isinstance(response, ComplaintResponded)
        assert (response.data.stage, response.data.outcome) == ("stage_1", "upheld")
        assert isinstance(closing, ComplaintClosed)
        assert (closing.data.stage, closing.data.ombudsman_decision) == ("stage_1", None)
        assert_no_personal_data(raw_bytes_of(tap, [cid]))

    detail = await api.get(cid)
    assert history_actions(detail) == ["received", "acknowledged", "responded", "closed"]
    assert [h["officer"] for h in detail["history"]] == [
        None,
        "officer-a",
        "officer-a",
        "officer-c",
    ]
    assert {h["recorded_by"] for h in detail["history"]} == {"officer-app"}
    assert detail["history"][2]["details"] == {"outcome": "upheld"}
    assert detail["stages"][0]["summary"] == STAGE_1_SUMMARY
    assert detail["allowed_next"] == ["escalate"]  # within the window, even though closed


async def test_escalated_to_stage_2_and_resolved(api: Api, event_tap) -> None:  # type: ignore[no-untyped-def]
    async with event_tap("contact.events") as tap:
        cid = (await api.create(customer=CUSTOMER, description=DESCRIPTION))["id"]
        await api.ok(cid, "acknowledge", officer="officer-a", at=minutes_ago(20))
        await api.ok(
            cid,
            "respond",
            officer="officer-a",
            outcome="not_upheld",
            summary=STAGE_1_SUMMARY,
            at=minutes_ago(10),
        )
        await api.ok(cid, "close", officer="officer-a", at=minutes_ago(5))
        # The customer comes back within the window: the closed complaint goes to stage 2.
        requested_at = datetime.now(UTC).replace(microsecond=0)
        escalated = await api.ok(
            cid, "escalate", reason=ESCALATION_REASON, at=requested_at.isoformat()
        )
        assert (escalated["stage"], escalated["status"]) == ("stage_2", "received")
        assert escalated["closed_at"] is None
        stage_2 = escalated["stages"][1]
        calendar = Settings().calendar
        assert datetime.fromisoformat(stage_2["due_at"]) == calendar.deadline(requested_at, 20)
        assert datetime.fromisoformat(stage_2["acknowledge_due_at"]) == calendar.deadline(
            requested_at, 3
        )
        assert stage_2["escalation_reason"] == ESCALATION_REASON
        await api.ok(cid, "acknowledge", officer="officer-b")

        same = await api.step(
            cid, "respond", officer="officer-a", outcome="upheld", summary=STAGE_2_SUMMARY
        )
        assert same.status_code == 409
        assert same.headers["content-type"] == "application/problem+json"
        problem = same.json()
        assert problem["type"].endswith("/same-officer")
        assert "officer-a responded at stage 1" in problem["detail"]
        assert "different officer" in problem["detail"]
        assert problem["allowed_next"] == ["respond", "extend"]

        responded = await api.ok(
            cid, "respond", officer="officer-b", outcome="partly_upheld", summary=STAGE_2_SUMMARY
        )
        assert (responded["stage"], responded["outcome"]) == ("stage_2", "partly_upheld")
        assert responded["escalate_by"] is None
        assert responded["allowed_next"] == ["escalate", "close"]
        await api.ok(cid, "close", officer="officer-b", reason="Satisfied with the review")

        events = await wait_for_types(
            tap,
            cid,
            [
                "complaint.received",
                "complaint.acknowledged",
                "complaint.responded",
                "complaint.closed",
                "complaint.escalated",
                "complaint.acknowledged",
                "complaint.responded",
                "complaint.closed",
            ],
        )
        escalation = events[4]
        assert isinstance(escalation, ComplaintEscalated)
        assert (escalation.data.from_stage, escalation.data.to_stage) == ("stage_1", "stage_2")
        assert escalation.data.requested_at == requested_at
        assert escalation.time == requested_at
        assert events[5].data.stage == "stage_2"
        assert (events[6].data.stage, events[6].data.outcome) == ("stage_2", "partly_upheld")
        assert events[7].data.stage == "stage_2"
        assert_no_personal_data(raw_bytes_of(tap, [cid]))

    detail = await api.get(cid)
    assert history_actions(detail) == [
        "received",
        "acknowledged",
        "responded",
        "closed",
        "escalated",
        "acknowledged",
        "responded",
        "closed",
    ]
    assert detail["history"][4]["details"] == {"from_stage": "stage_1", "to_stage": "stage_2"}
    assert [s["stage"] for s in detail["stages"]] == ["stage_1", "stage_2"]
    assert [s["responded_by"] for s in detail["stages"]] == ["officer-a", "officer-b"]


async def test_taken_to_the_ombudsman_and_decided(api: Api, event_tap) -> None:  # type: ignore[no-untyped-def]
    async with event_tap("contact.events") as tap:
        cid = (await api.create(customer=CUSTOMER, description=DESCRIPTION))["id"]
        await api.ok(cid, "acknowledge", officer="officer-a", at=minutes_ago(25))
        await api.ok(
            cid,
            "respond",
            officer="officer-a",
            outcome="not_upheld",
            summary=STAGE_1_SUMMARY,
            at=minutes_ago(20),
        )
        await api.ok(cid, "escalate", reason=ESCALATION_REASON, at=minutes_ago(15))
        await api.ok(cid, "acknowledge", officer="officer-b", at=minutes_ago(10))
        await api.ok(
            cid,
            "respond",
            officer="officer-b",
            outcome="not_upheld",
            summary=STAGE_2_SUMMARY,
            at=minutes_ago(5),
        )
        referred = await api.ok(
            cid, "escalate", reason="Complained to the LGSCO", at=minutes_ago(2)
        )
        assert (referred["stage"], referred["status"]) == ("ombudsman", "referred")
        assert referred["allowed_next"] == ["ombudsman-decision"]
        assert referred["due_at"] is None

        refused = await api.step(cid, "respond", officer="officer-c", outcome="upheld", summary="x")
        assert refused.status_code == 409
        assert "Ombudsman" in refused.json()["detail"]
        assert refused.json()["allowed_next"] == ["ombudsman-decision"]

        decided_at = datetime.now(UTC).replace(microsecond=0)
        decided = await api.ok(
            cid,
            "ombudsman-decision",
            outcome="upheld",
            decided_at=decided_at.isoformat(),
            summary="Fault causing injustice; apologise and pay 100 pounds.",
        )
        assert (decided["stage"], decided["status"]) == ("ombudsman", "closed")
        assert (decided["outcome"], decided["ombudsman_decision"]) == ("upheld", "upheld")
        assert decided["closed_by"] == "officer-app"
        assert decided["allowed_next"] == []

        after = await api.step(cid, "close", officer="officer-c")
        assert after.status_code == 409
        assert "nothing further" in after.json()["detail"]
        assert after.json()["allowed_next"] == []

        events = await wait_for_types(
            tap,
            cid,
            [
                "complaint.received",
                "complaint.acknowledged",
                "complaint.responded",
                "complaint.escalated",
                "complaint.acknowledged",
                "complaint.responded",
                "complaint.escalated",
                "complaint.closed",
            ],
        )
        to_ombudsman, closing = events[6], events[7]
        assert (to_ombudsman.data.from_stage, to_ombudsman.data.to_stage) == (
            "stage_2",
            "ombudsman",
        )
        assert isinstance(closing, ComplaintClosed)
        assert (closing.data.stage, closing.data.ombudsman_decision) == ("ombudsman", "upheld")
        assert closing.data.closed_at == decided_at
        assert_no_personal_data(raw_bytes_of(tap, [cid]))

    detail = await api.get(cid)
    assert history_actions(detail)[-2:] == ["escalated", "ombudsman_decision"]
    assert detail["stages"][2]["outcome"] == "upheld"


async def test_extended_once_per_stage_by_at_most_10_working_days(api: Api, event_tap) -> None:  # type: ignore[no-untyped-def]
    calendar = Settings().calendar
    async with event_tap("contact.events") as tap:
        created = await api.create()
        cid = created["id"]
        original = datetime.fromisoformat(created["stages"][0]["due_at"])

        too_long = await api.step(cid, "extend", working_days=11, reason="Awaiting a contractor")
        assert too_long.status_code == 422
        assert too_long.json()["errors"][0]["field"] == "body.working_days"
        no_reason = await api.step(cid, "extend", working_days=5)
        assert no_reason.status_code == 422
        assert "body.reason" in no_reason.json()["detail"]

        extended = await api.ok(
            cid, "extend", working_days=5, reason="Awaiting a contractor", officer="officer-a"
        )
        stage_1 = extended["stages"][0]
        new_due = calendar.extend(original, 5)
        assert datetime.fromisoformat(stage_1["due_at"]) == new_due
        assert datetime.fromisoformat(extended["due_at"]) == new_due
        assert stage_1["extension_working_days"] == 5
        assert "extend" not in extended["allowed_next"]

        again = await api.step(cid, "extend", working_days=2, reason="Still waiting")
        assert again.status_code == 409
        problem = again.json()
        assert problem["type"].endswith("/extension-used")
        assert "already been extended once" in problem["detail"]
        assert (problem["stage"], problem["complaint_status"]) == ("stage_1", "received")
        assert problem["allowed_next"] == ["acknowledge"]

        # A new stage brings a new extension.
        await api.ok(cid, "acknowledge", officer="officer-a")
        await api.ok(cid, "respond", officer="officer-a", outcome="not_upheld", summary="No fault")
        escalated = await api.ok(cid, "escalate", reason="Disagree")
        stage_2_due = datetime.fromisoformat(escalated["stages"][1]["due_at"])
        await api.ok(cid, "acknowledge", officer="officer-b")
        extended_2 = await api.ok(cid, "extend", working_days=10, reason="Independent review")
        assert datetime.fromisoformat(extended_2["stages"][1]["due_at"]) == calendar.extend(
            stage_2_due, 10
        )

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
        assert (first.data.stage, first.data.working_days, first.data.due_at) == (
            "stage_1",
            5,
            new_due,
        )
        assert (second.data.stage, second.data.working_days) == ("stage_2", 10)
        assert second.data.due_at == calendar.extend(stage_2_due, 10)

    detail = await api.get(cid)
    extended_entries = [h for h in detail["history"] if h["action"] == "extended"]
    assert extended_entries[0]["details"] == {"working_days": 5, "due_at": new_due.isoformat()}


async def test_a_backdated_complaint_is_refused_stage_2_after_the_window(api: Api) -> None:
    received = datetime(2025, 1, 6, 10, 0, tzinfo=UTC)
    cid = (await api.create(received_at=received.isoformat()))["id"]
    await api.ok(
        cid, "acknowledge", officer="officer-a", at=(received + timedelta(days=1)).isoformat()
    )
    responded_at = received + timedelta(days=2)
    await api.ok(
        cid,
        "respond",
        officer="officer-a",
        outcome="not_upheld",
        summary="No fault",
        at=responded_at.isoformat(),
    )
    detail = await api.get(cid)
    assert detail["allowed_next"] == ["close"]
    late = await api.step(cid, "escalate", reason="I was away")
    assert late.status_code == 409
    problem = late.json()
    assert problem["type"].endswith("/escalation-window-passed")
    assert "within 20 working days of the stage 1 response" in problem["detail"]
    assert problem["allowed_next"] == ["close"]
    # Dated inside the window (the request was made then), it is accepted.
    in_time = await api.ok(
        cid, "escalate", reason="Asked on time", at=(responded_at + timedelta(days=7)).isoformat()
    )
    assert in_time["stage"] == "stage_2"
