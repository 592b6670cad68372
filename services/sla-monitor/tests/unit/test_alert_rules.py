"""The alert rules on plain values: who is told, which clocks a digest lists, when it is due."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes, policy
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest

from sla_monitor.alerts.domain import (
    AlertTeam,
    OpenClock,
    Section,
    breach_mail_id,
    build_digest,
    covering,
    day_ends_at,
    digest_due,
    digest_mail_id,
    retry_delay,
    section_of,
)
from sla_monitor.alerts.render import breach_mail, digest_mail, message

LONDON = ZoneInfo("Europe/London")


def london(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=LONDON)


def team(**changes: object) -> AlertTeam:
    values: dict[str, object] = {
        "id": UUID("00000000-0000-0000-0000-00000000aaaa"),
        "name": "waste-team",
        "email": "waste@example.gov.uk",
        "service_areas": ("waste",),
        "digest_time": time(8, 0),
        "timezone": "Europe/London",
    }
    values.update(changes)
    return AlertTeam(**values)  # type: ignore[arg-type]


def open_clock(
    *,
    due_at: datetime,
    at_risk_at: datetime | None = None,
    status: str = "pending",
    service_area: str | None = "waste",
    reference: str | None = "ENQ-2026-000001",
    commitment: str = "email-respond",
) -> OpenClock:
    return OpenClock(
        clock_id=uuid4(),
        reference=reference,
        contact_type="enquiry",
        contact_id=uuid4(),
        commitment=commitment,
        service_area=service_area,
        due_at=due_at.astimezone(UTC),
        at_risk_at=(at_risk_at or due_at - timedelta(days=1)).astimezone(UTC),
        status=status,
        breached_at=due_at.astimezone(UTC) if status == "breached" else None,
    )


# -- who is told ------------------------------------------------------------------------------


def test_a_breach_goes_to_the_enabled_teams_covering_its_service_area_only() -> None:
    waste = team()
    both = team(id=uuid4(), name="both", service_areas=("waste", "parking"))
    parking = team(id=uuid4(), name="parking", service_areas=("parking",))
    paused = team(id=uuid4(), name="paused", enabled=False)
    assert covering([waste, both, parking, paused], "waste") == [waste, both]
    assert covering([waste, both, parking, paused], None) == []


def test_a_mail_id_is_one_per_breach_and_team_and_one_per_team_and_day() -> None:
    notice, other_team = uuid4(), uuid4()
    assert breach_mail_id(notice, team().id) == breach_mail_id(notice, team().id)
    assert breach_mail_id(notice, team().id) != breach_mail_id(notice, other_team)
    day = date(2026, 6, 3)
    assert digest_mail_id(team().id, day) == digest_mail_id(team().id, day)
    assert digest_mail_id(team().id, day) != digest_mail_id(team().id, day + timedelta(days=1))


# -- when the digest is due ---------------------------------------------------------------------


def test_the_digest_is_due_from_its_local_time_once_a_day() -> None:
    day = date(2026, 6, 3)  # BST: 08:00 London is 07:00 UTC
    assert digest_due(team(), london(day, time(7, 59))) is None
    assert digest_due(team(), london(day, time(8, 0))) == day
    assert digest_due(team(), datetime(2026, 6, 3, 7, 0, tzinfo=UTC)) == day
    assert digest_due(team(last_digest_on=day), london(day, time(8, 0, 1))) is None
    assert digest_due(team(last_digest_on=day - timedelta(days=1)), london(day, time(15))) == day
    assert digest_due(team(enabled=False), london(day, time(9))) is None


def test_in_winter_the_digest_time_is_gmt() -> None:
    day = date(2026, 12, 2)
    assert digest_due(team(), datetime(2026, 12, 2, 7, 59, tzinfo=UTC)) is None
    assert digest_due(team(), datetime(2026, 12, 2, 8, 0, tzinfo=UTC)) == day


def test_a_digest_time_the_clocks_skip_is_sent_just_after_the_gap() -> None:
    # 29 March 2026: 01:00 GMT becomes 02:00 BST; 01:30 never happens in London.
    skipped = team(digest_time=time(1, 30))
    assert digest_due(skipped, datetime(2026, 3, 29, 0, 59, tzinfo=UTC)) is None
    assert digest_due(skipped, datetime(2026, 3, 29, 1, 0, tzinfo=UTC)) == date(2026, 3, 29)


def test_a_digest_time_the_clocks_repeat_is_sent_once() -> None:
    # 25 October 2026: 02:00 BST becomes 01:00 GMT; 01:30 happens twice in London.
    repeated = team(digest_time=time(1, 30))
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 01:30 BST
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 01:30 GMT
    assert digest_due(repeated, first) == date(2026, 10, 25)
    assert (
        digest_due(team(digest_time=time(1, 30), last_digest_on=date(2026, 10, 25)), second) is None
    )


def test_a_local_day_ends_at_the_next_local_midnight_23_or_25_hours_on_a_change_day() -> None:
    assert day_ends_at(date(2026, 3, 29), "Europe/London") == datetime(2026, 3, 29, 23, tzinfo=UTC)
    assert day_ends_at(date(2026, 10, 25), "Europe/London") == datetime(2026, 10, 26, tzinfo=UTC)
    assert day_ends_at(date(2026, 6, 3), "Europe/London") == datetime(2026, 6, 3, 23, tzinfo=UTC)


# -- what the digest lists --------------------------------------------------------------------


def test_each_open_clock_is_in_its_most_urgent_section() -> None:
    day = date(2026, 6, 3)
    now = london(day, time(8))
    end = day_ends_at(day, "Europe/London")
    breached = open_clock(due_at=london(day - timedelta(days=1), time(17)), status="breached")
    due_today = open_clock(due_at=london(day, time(23, 59)), at_risk_at=london(day, time(1)))
    overdue_unflagged = open_clock(due_at=london(day, time(7, 59)))
    at_risk = open_clock(due_at=london(day + timedelta(days=2), time(9)), at_risk_at=now)
    not_yet = open_clock(
        due_at=london(day + timedelta(days=2), time(9)), at_risk_at=now + timedelta(seconds=1)
    )
    due_tomorrow_midnight = open_clock(
        due_at=london(day + timedelta(days=1), time(0)), at_risk_at=london(day, time(18))
    )
    met = open_clock(due_at=london(day, time(12)), status="met")
    assert section_of(breached, now=now, day_end=end) is Section.breached
    assert section_of(due_today, now=now, day_end=end) is Section.due_today
    assert section_of(overdue_unflagged, now=now, day_end=end) is Section.due_today
    assert section_of(at_risk, now=now, day_end=end) is Section.at_risk
    assert section_of(not_yet, now=now, day_end=end) is None
    assert section_of(due_tomorrow_midnight, now=now, day_end=end) is None
    assert section_of(met, now=now, day_end=end) is None


def test_a_digest_lists_its_service_areas_clocks_by_due_time() -> None:
    day = date(2026, 6, 3)
    now = london(day, time(8))
    late = open_clock(due_at=london(day, time(16)), reference="ENQ-2026-000002")
    early = open_clock(due_at=london(day, time(10)), reference="ENQ-2026-000003")
    elsewhere = open_clock(due_at=london(day, time(11)), service_area="parking")
    digest = build_digest(team(), [late, elsewhere, early], now=now, day=day)
    assert digest.due_today == (early, late)
    assert digest.breached == () and digest.at_risk == ()
    assert digest.counts == {Section.due_today: 2, Section.at_risk: 0, Section.breached: 0}


def test_retries_back_off_doubling_to_a_cap() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [5.0, 10.0, 20.0, 40.0]
    assert retry_delay(20) == 300.0


# -- what the mails say -------------------------------------------------------------------------


def test_a_breach_mail_names_team_reference_commitment_and_local_due_time() -> None:
    item = open_clock(due_at=london(date(2026, 6, 3), time(17)), status="breached")
    rendered = breach_mail(team(), item)
    assert "waste-team" in rendered.subject
    assert "ENQ-2026-000001" in rendered.subject and "email-respond" in rendered.subject
    assert "Wed 03 Jun 2026 17:00 BST" in rendered.text
    assert "<td>ENQ-2026-000001</td>" in rendered.html


def test_a_contact_with_no_reference_is_named_by_its_type_and_id() -> None:
    item = open_clock(due_at=london(date(2026, 6, 3), time(17)), reference=None)
    assert item.label == f"enquiry {item.contact_id}"


def test_a_digest_mail_counts_every_clock_and_lists_at_most_max_rows() -> None:
    day = date(2026, 12, 2)
    items = [
        open_clock(due_at=london(day, time(9 + n)), reference=f"ENQ-2026-00000{n}")
        for n in range(3)
    ]
    digest = build_digest(team(), items, now=london(day, time(8)), day=day)
    rendered = digest_mail(digest, max_rows=2)
    assert rendered.subject == (
        "[waste-team] SLA digest Wed 02 Dec 2026: 3 due today, 0 at risk, 0 breached"
    )
    assert "ENQ-2026-000001" in rendered.text and "ENQ-2026-000002" not in rendered.text
    assert "... and 1 more" in rendered.text
    assert "09:00 GMT" in rendered.text


def test_the_message_is_text_with_an_html_alternative_and_a_stable_message_id() -> None:
    rendered = breach_mail(team(), open_clock(due_at=london(date(2026, 6, 3), time(17))))
    mail_id = uuid4()
    built = message(
        mail_id=mail_id,
        sender="sla@example.gov.uk",
        recipient="waste@example.gov.uk",
        rendered=rendered,
        now=datetime(2026, 6, 3, 16, 0, 1, tzinfo=UTC),
    )
    parsed = message_from_bytes(bytes(built), policy=policy.default)
    assert parsed["Message-ID"] == f"<{mail_id}@sla-monitor>"
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]


@pytest.mark.parametrize("name", ["Waste <b>", "a&b"])
def test_html_is_escaped(name: str) -> None:
    rendered = breach_mail(team(name=name), open_clock(due_at=london(date(2026, 6, 3), time(17))))
    assert name not in rendered.html
