"""The alert rules on plain values: who is told, which clocks a digest lists, when it is due."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes, policy
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest

from sla_monitor.alerts.domain import (
    AlertTeam,
    ContactLinks,
    Section,
    breach_mail_id,
    build_digest,
    covering,
    digest_due,
    digest_mail_id,
    label_of,
    owner_of,
    retry_delay,
)
from sla_monitor.alerts.render import breach_mail, digest_mail, message
from sla_monitor.worklist.domain import WorklistRow, WorkStatus

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
    status: WorkStatus = WorkStatus.open,
    service_area: str | None = "waste",
    reference: str | None = "ENQ-2026-000001",
    commitment: str = "email-respond",
    assignee_id: str | None = None,
    assignee_name: str | None = None,
    subject_type: str = "enquiry",
) -> WorklistRow:
    """A worklist row, as the worklist's query gives it."""
    return WorklistRow(
        clock_id=uuid4(),
        subject_type=subject_type,
        subject_id=uuid4(),
        reference=reference,
        commitment=commitment,
        service_area=service_area,
        stage=None,
        assignee_id=assignee_id,
        assignee_name=assignee_name,
        assignee_team=None,
        started_at=due_at.astimezone(UTC) - timedelta(days=5),
        due_at=due_at.astimezone(UTC),
        at_risk_at=(at_risk_at or due_at - timedelta(days=1)).astimezone(UTC),
        status=status,
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


# -- what the digest lists --------------------------------------------------------------------


def test_each_row_is_in_one_section_from_the_worklists_answers() -> None:
    day = date(2026, 6, 3)
    breached = open_clock(due_at=london(day, time(7, 59)), status=WorkStatus.breached)
    due_today = open_clock(due_at=london(day, time(23, 59)), status=WorkStatus.at_risk)
    due_later = open_clock(
        due_at=london(day + timedelta(days=2), time(9)), status=WorkStatus.at_risk
    )
    # The breached and at-risk clocks due today come in both answers: listed once each.
    digest = build_digest(
        team(),
        day=day,
        due_today=[breached, due_today],
        at_risk_or_breached=[breached, due_today, due_later],
    )
    assert digest.breached == (breached,)
    assert digest.due_today == (due_today,)
    assert digest.at_risk == (due_later,)
    assert digest.counts == {Section.due_today: 1, Section.at_risk: 1, Section.breached: 1}


def test_a_digest_lists_rows_by_due_time() -> None:
    day = date(2026, 6, 3)
    late = open_clock(due_at=london(day, time(16)), reference="ENQ-2026-000002")
    early = open_clock(due_at=london(day, time(10)), reference="ENQ-2026-000003")
    digest = build_digest(team(), day=day, due_today=[late, early], at_risk_or_breached=[])
    assert digest.due_today == (early, late)
    assert digest.breached == () and digest.at_risk == ()


def test_retries_back_off_doubling_to_a_cap() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [5.0, 10.0, 20.0, 40.0]
    assert retry_delay(20) == 300.0


# -- what the mails say -------------------------------------------------------------------------


def test_a_breach_mail_names_team_reference_owner_commitment_and_local_due_time() -> None:
    item = open_clock(
        due_at=london(date(2026, 6, 3), time(17)),
        status=WorkStatus.breached,
        assignee_id="jsmith",
        assignee_name="Jo Smith",
    )
    rendered = breach_mail(team(), item)
    assert "waste-team" in rendered.subject
    assert "ENQ-2026-000001" in rendered.subject and "email-respond" in rendered.subject
    assert "Wed 03 Jun 2026 17:00 BST" in rendered.text
    assert "Owner:         Jo Smith" in rendered.text
    assert "<td>ENQ-2026-000001</td><td>Jo Smith</td>" in rendered.html
    assert "http" not in rendered.text and "<a " not in rendered.html  # no template: no link


def test_a_contact_with_no_reference_is_named_by_its_type_and_id() -> None:
    item = open_clock(due_at=london(date(2026, 6, 3), time(17)), reference=None)
    assert label_of(item) == f"enquiry {item.subject_id}"


def test_the_owner_is_the_directorys_name_else_the_staff_id_else_unassigned() -> None:
    due = london(date(2026, 6, 3), time(17))
    assert owner_of(open_clock(due_at=due, assignee_id="jsmith", assignee_name="Jo")) == "Jo"
    assert owner_of(open_clock(due_at=due, assignee_id="jsmith")) == "jsmith"
    assert owner_of(open_clock(due_at=due)) == "unassigned"


def test_a_link_fills_the_template_of_the_contacts_type() -> None:
    links = ContactLinks(
        {
            "*": "https://crm.example.gov.uk/case/{reference}",
            "complaint": "https://complaints.example.gov.uk/v1/complaints/{id}?t={type}",
        }
    )
    due = london(date(2026, 6, 3), time(17))
    enquiry = open_clock(due_at=due)
    complaint = open_clock(due_at=due, subject_type="complaint", reference="CMP-1")
    unreferenced = open_clock(due_at=due, reference=None)
    assert links.link(enquiry) == "https://crm.example.gov.uk/case/ENQ-2026-000001"
    assert links.link(complaint) == (
        f"https://complaints.example.gov.uk/v1/complaints/{complaint.subject_id}?t=complaint"
    )
    assert links.link(unreferenced) is None  # the template needs a reference it lacks
    assert ContactLinks({"*": ""}).link(enquiry) is None
    with pytest.raises(ValueError, match="name"):
        ContactLinks({"*": "https://crm.example.gov.uk/{name}"})


def test_mails_link_the_contact_when_a_template_is_set() -> None:
    links = ContactLinks({"*": "https://crm.example.gov.uk/case/{reference}"})
    day = date(2026, 6, 3)
    item = open_clock(due_at=london(day, time(17)), status=WorkStatus.breached)
    breach = breach_mail(team(), item, links=links)
    assert "Open it:       https://crm.example.gov.uk/case/ENQ-2026-000001" in breach.text
    anchor = "<a href='https://crm.example.gov.uk/case/ENQ-2026-000001'>ENQ-2026-000001</a>"
    assert anchor in breach.html
    digest = build_digest(team(), day=day, due_today=[item], at_risk_or_breached=[item])
    rendered = digest_mail(digest, max_rows=10, links=links)
    assert "owner unassigned  https://crm.example.gov.uk/case/ENQ-2026-000001" in rendered.text
    assert anchor in rendered.html


def test_a_digest_mail_counts_every_clock_and_lists_at_most_max_rows() -> None:
    day = date(2026, 12, 2)
    items = [
        open_clock(due_at=london(day, time(9 + n)), reference=f"ENQ-2026-00000{n}")
        for n in range(3)
    ]
    digest = build_digest(team(), day=day, due_today=items, at_risk_or_breached=[])
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
