"""The worklist's writes and query through the consumer's own service, on PostgreSQL and on
SQLite (the embedded default `make run` uses): the same rows either way."""

from __future__ import annotations

import sys
from datetime import date, time
from pathlib import Path

import pytest

from contact_common.bus.consumer import ConsumedEvent
from contact_common.bus.topics import CONTACT_EVENTS
from contact_common.calendar import WorkingCalendar
from contact_common.commitments import load_policy
from contact_common.db import create_engine, create_session_factory, transaction
from contact_common.migrations import upgrade
from sla_monitor.clocks.service import handle_contact_events
from sla_monitor.worklist.domain import WorklistFilters, WorkStatus
from sla_monitor.worklist.repository import count_worklist, worklist_rows

from .conftest import SERVICE_DIR

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from upstream_events import Enquiry, london  # noqa: E402

NOW = london(date(2026, 6, 3), time(10))


@pytest.fixture(params=["postgresql", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'sla.db'}"
    return request.getfixturevalue("database_url")


async def test_references_owners_and_the_query(store_url: str) -> None:
    await upgrade(SERVICE_DIR, store_url)
    engine = create_engine(store_url, schema="sla")
    sessions = create_session_factory(engine)
    late = Enquiry(london(date(2026, 6, 1), time(10)), reference="ENQ-2026-000901")
    events = [
        late.assigned(london(date(2026, 6, 1), time(11)), "jsmith"),  # before its opening
        late.opened(),
    ]
    later = [
        late.assigned(london(date(2026, 6, 1), time(10, 30)), "abrown"),  # earlier, late
        late.assigned(london(date(2026, 6, 1), time(10, 45)), "cjones"),  # earlier, late
    ]
    try:
        for batch in (events, later, events):  # the last a replay: nothing changes
            async with transaction(sessions) as session:
                await handle_contact_events(
                    session,
                    batch=[ConsumedEvent(e, CONTACT_EVENTS, 0, n) for n, e in enumerate(batch)],
                    policy=load_policy("default"),
                    calendar=WorkingCalendar(),
                    now=NOW,
                )
        async with transaction(sessions) as session:
            rows = await worklist_rows(session, now=NOW)
            breached = WorklistFilters(statuses=frozenset({WorkStatus.breached}))
            counted = await count_worklist(session, now=NOW, filters=breached)
            mine = await worklist_rows(session, now=NOW, filters=WorklistFilters(assignee="jsmith"))
    finally:
        await engine.dispose()
    assert [(r.reference, r.commitment, r.status, r.assignee_id) for r in rows] == [
        ("ENQ-2026-000901", "email-acknowledge", WorkStatus.breached, "jsmith"),
        ("ENQ-2026-000901", "email-respond", WorkStatus.open, "jsmith"),
    ]
    assert rows[0].assignee_name is None  # not in the directory
    assert counted == 1 and len(mine) == 2
