"""The one reference issuer: a year's numbers ascending and never twice; the reference's shape."""

from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, Table, text

from contact_common.db import create_engine, create_session_factory, transaction
from contact_common.references import ReferenceIssuer, format_reference


def test_a_reference_is_prefix_year_and_six_digits() -> None:
    assert format_reference("CMP", 2026, 42) == "CMP-2026-000042"
    assert format_reference("ENQ", 2026, 1_234_567) == "ENQ-2026-1234567"


async def test_sqlite_counts_each_year_apart(tmp_path: Path) -> None:
    metadata = MetaData(schema="refs")
    counter = Table(
        "counter",
        metadata,
        Column("year", Integer, primary_key=True, autoincrement=False),
        Column("last_number", Integer),
    )
    issuer = ReferenceIssuer(counter=counter, sequence=text("SELECT 0"))  # not used on SQLite
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'refs.db'}", schema="refs")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        factory = create_session_factory(engine)
        async with transaction(factory) as session:
            assert await issuer.reserve(session, year=2031) == [1]
            assert await issuer.reserve(session, year=2031, count=3) == [2, 3, 4]
            assert await issuer.reserve(session, year=2032) == [1]
            assert await issuer.reserve(session, year=2031) == [5]
    finally:
        await engine.dispose()
