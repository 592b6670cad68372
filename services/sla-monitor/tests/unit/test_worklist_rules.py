"""The worklist's pure rules: due windows on the council's calendar, statuses, contact facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

from contact_common.events import Channel, EnquiryAssigned, EnquiryAssignedData
from sla_monitor.worklist.domain import Due, WorkStatus, contact_facts, due_before, status_of

LONDON = ZoneInfo("Europe/London")


def test_due_today_ends_at_local_midnight_in_summer_time() -> None:
    now = datetime(2026, 6, 3, 22, 30, tzinfo=UTC)  # 23:30 BST on Wednesday
    assert due_before(Due.today, now=now, timezone=LONDON) == datetime(
        2026, 6, 3, 23, 0, tzinfo=UTC
    )
    # Just after midnight BST it is already Thursday in London, Wednesday in UTC.
    after = datetime(2026, 6, 3, 23, 30, tzinfo=UTC)
    assert due_before(Due.today, now=after, timezone=LONDON) == datetime(
        2026, 6, 4, 23, 0, tzinfo=UTC
    )


def test_due_this_week_ends_at_midnight_after_sunday() -> None:
    wednesday = datetime(2026, 10, 21, 12, tzinfo=UTC)
    # The clocks go back on Sunday 25 October: Monday's midnight is GMT.
    assert due_before(Due.week, now=wednesday, timezone=LONDON) == datetime(
        2026, 10, 26, 0, 0, tzinfo=UTC
    )
    sunday = datetime(2026, 10, 25, 20, tzinfo=UTC)
    assert due_before(Due.week, now=sunday, timezone=LONDON) == datetime(
        2026, 10, 26, 0, 0, tzinfo=UTC
    )
    assert due_before(Due.any, now=sunday, timezone=LONDON) is None


def test_status_of_an_open_clock() -> None:
    now = datetime(2026, 6, 3, 9, tzinfo=UTC)
    hour = timedelta(hours=1)
    assert status_of(breached=False, due_at=now + hour, at_risk_at=now + hour / 2, now=now) is (
        WorkStatus.open
    )
    assert status_of(breached=False, due_at=now + hour, at_risk_at=now, now=now) is (
        WorkStatus.at_risk
    )
    # A deadline passed a moment ago, before the timer flagged it, is breached already.
    assert status_of(breached=False, due_at=now - hour, at_risk_at=now - 2 * hour, now=now) is (
        WorkStatus.breached
    )
    assert status_of(breached=True, due_at=now - hour, at_risk_at=now, now=now) is (
        WorkStatus.breached
    )


def _assigned(enquiry_id, at: datetime, assignee: str | None) -> EnquiryAssigned:
    return EnquiryAssigned.from_data(
        EnquiryAssignedData(
            enquiry_id=enquiry_id,
            channel=Channel.email,
            service_area="waste",
            received_at=datetime(2026, 6, 1, 9, tzinfo=UTC),
            assigned_at=at,
            assignee_id=assignee,
        ),
        source="/enquiry-api",
    )


def test_contact_facts_keep_the_latest_assignment_by_its_time() -> None:
    enquiry = uuid4()
    at = datetime(2026, 6, 1, 10, tzinfo=UTC)
    facts = contact_facts(
        [
            _assigned(enquiry, at + timedelta(hours=1), "jsmith"),
            _assigned(enquiry, at, "abrown"),  # earlier, delivered later
        ]
    )
    assert len(facts) == 1
    assert (facts[0].assignee_id, facts[0].assigned_at, facts[0].reference) == (
        "jsmith",
        at + timedelta(hours=1),
        None,
    )
    # Handed to a team only: nobody owns it now.
    team = contact_facts([_assigned(enquiry, at + timedelta(hours=2), None)])
    assert team[0].assignee_id is None and team[0].assigned_at == at + timedelta(hours=2)
