"""Reference numbers: counted per year of receipt, never issued twice, taken without waiting in
line, on both databases the service runs on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from complaints_api.complaints import service
from complaints_api.complaints.repository import next_reference_number
from complaints_api.complaints.schemas import ComplaintCreate
from complaints_api.config import Settings
from complaints_api.models import outbox
from contact_common.db import create_engine, create_session_factory, is_sqlite, transaction
from contact_common.events import decode_event
from contact_common.migrations import alembic_config, upgrade
from contact_devtools.testing import REPOSITORY

SERVICE = REPOSITORY / "services" / "complaints-api"
BEFORE_SEQUENCES = "5fe2afe39a49"  # the revision that created the counter table


@pytest.fixture(params=["postgresql", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database the service runs on; SQLite is what `make run` uses."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/complaints.db"
    database_url = request.getfixturevalue("database_url")
    if is_sqlite(database_url):
        pytest.skip("needs PostgreSQL; none answered")
    return database_url


@pytest.fixture
async def sessions(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on this test's database with complaints-api's migrations applied."""
    await upgrade(SERVICE, url)
    engine = create_engine(url, schema="complaints")
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


async def test_each_year_counts_from_one_and_a_rollback_spends_its_number(
    sessions: async_sessionmaker[AsyncSession], url: str
) -> None:
    async with transaction(sessions) as session:
        assert await next_reference_number(session, year=2031) == 1
        assert await next_reference_number(session, year=2031) == 2
        assert await next_reference_number(session, year=2032) == 1
    async with sessions() as session:
        assert await next_reference_number(session, year=2031) == 3
        await session.rollback()
    async with transaction(sessions) as session:
        following = await next_reference_number(session, year=2031)
    # PostgreSQL's sequence does not take back number 3 (docs/decisions.md); SQLite's counter
    # row, written in the rolled-back transaction, does.
    assert following == (3 if is_sqlite(url) else 4)


async def test_concurrent_first_uses_of_a_year_get_distinct_numbers(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def take() -> int:
        async with transaction(sessions) as session:
            return await next_reference_number(session, year=2033)

    # Twenty transactions race to create the year's sequence (on SQLite, to write its counter
    # row); each gets a number of its own, and none is lost.
    numbers = await asyncio.gather(*(take() for _ in range(20)))
    assert sorted(numbers) == list(range(1, 21))


async def test_the_year_is_the_year_of_receipt_in_the_councils_time(
    sessions: async_sessionmaker[AsyncSession], url: str
) -> None:
    settings = Settings(database_url=url)
    context = service.Context(settings=settings, recorded_by="officer-app", now=datetime.now(UTC))

    async def receive(received_at: str) -> str:
        request = ComplaintCreate.model_validate(
            {"received_at": received_at, "channel": "email", "description": "Missed bin."}
        )
        async with transaction(sessions) as session:
            created = await service.receive(session=session, context=context, request=request)
        return created.reference

    # New Year's Eve in London: the sender's own offset does not decide the year.
    assert await receive("2025-12-31T19:30:00-05:00") == "CMP-2026-000001"
    assert await receive("2026-01-01T00:30:00+01:00") == "CMP-2025-000001"
    assert await receive("2025-12-31T23:59:59+00:00") == "CMP-2025-000002"
    assert await receive("2026-01-01T00:00:00+00:00") == "CMP-2026-000002"


async def test_a_received_complaint_is_stored_with_its_stage_history_and_event(
    sessions: async_sessionmaker[AsyncSession], url: str
) -> None:
    settings = Settings(database_url=url)
    now = datetime.now(UTC)
    context = service.Context(settings=settings, recorded_by="officer-app", now=now)
    request = ComplaintCreate.model_validate(
        {
            "received_at": (now - timedelta(hours=1)).isoformat(),
            "channel": "letter",
            "service_area": "housing",
            "description": "The repair was never booked.",
            "customer": {"name": "A Resident", "email": "resident@example.org"},
        }
    )
    async with transaction(sessions) as session:
        created = await service.receive(session=session, context=context, request=request)
    async with sessions() as session:
        stored = await service.get(session=session, context=context, complaint_id=created.id)
        payloads = (await session.execute(select(outbox.table.c.payload))).scalars().all()

    assert stored == created
    assert (stored.status.value, stored.stage.value) == ("received", "stage_1")
    assert [record.stage.value for record in stored.stages] == ["stage_1"]
    assert stored.stages[0].due_at is not None
    assert [(step.action, step.recorded_by) for step in stored.history] == [
        ("received", "officer-app")
    ]
    assert stored.customer is not None and stored.customer.name == "A Resident"
    [event] = [decode_event(payload) for payload in payloads]
    assert event.type == "complaint.received"
    assert event.subject == str(created.id)
    assert event.data.reference == created.reference  # type: ignore[attr-defined]


async def test_the_migration_carries_each_years_counter_over(database_url: str) -> None:
    if is_sqlite(database_url):
        pytest.skip("needs PostgreSQL; SQLite keeps its counter table")
    await upgrade(SERVICE, database_url, BEFORE_SEQUENCES)
    engine = create_engine(database_url, schema="complaints")
    sessions = create_session_factory(engine)
    try:
        async with transaction(sessions) as session:
            await session.execute(
                text(
                    "INSERT INTO complaints.reference_counter (year, last_number) "
                    "VALUES (2024, 3), (2025, 41), (2026, 7)"
                )
            )

        await upgrade(SERVICE, database_url)
        async with sessions() as session:
            assert await _reference_sequences(session) == [
                "complaint_reference_2024",
                "complaint_reference_2025",
                "complaint_reference_2026",
            ]
        async with transaction(sessions) as session:
            # Each counted year carries on after its last number; a new year starts at 1. 2024
            # takes no number here, so its sequence has issued none.
            assert await next_reference_number(session, year=2025) == 42
            assert await next_reference_number(session, year=2026) == 8
            assert await next_reference_number(session, year=2027) == 1
            assert await next_reference_number(session, year=2027) == 2

        config = alembic_config(SERVICE, database_url)
        await asyncio.to_thread(command.downgrade, config, BEFORE_SEQUENCES)
        async with sessions() as session:
            counters = (
                await session.execute(
                    text("SELECT year, last_number FROM complaints.reference_counter ORDER BY 1")
                )
            ).all()
            sequences = await _reference_sequences(session)
            function = (
                await session.execute(text("SELECT to_regproc('complaints.next_reference_number')"))
            ).scalar_one()
        # The counters hold the last numbers the sequences issued, so no number is issued again
        # after a downgrade either; a year whose sequence issued none keeps its counter.
        assert [tuple(row) for row in counters] == [(2024, 3), (2025, 42), (2026, 8), (2027, 2)]
        assert sequences == []
        assert function is None

        await upgrade(SERVICE, database_url)
        async with transaction(sessions) as session:
            assert await next_reference_number(session, year=2025) == 43
            assert await next_reference_number(session, year=2027) == 3
    finally:
        await engine.dispose()


async def _reference_sequences(session: AsyncSession) -> list[str]:
    names = await session.execute(
        text(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = 'complaints' "
            "AND sequencename LIKE 'complaint\\_reference\\_%' ORDER BY 1"
        )
    )
    return list(names.scalars())
