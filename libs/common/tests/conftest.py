"""libs/common's own fixtures; the repository's shared ones are in contact_devtools.testing."""

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

from contact_common.db import create_engine, is_sqlite


@pytest.fixture(params=["postgresql", "sqlite"])
def any_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database the services run on."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/test.db"
    url: str = request.getfixturevalue("database_url")
    if is_sqlite(url):
        pytest.skip("needs PostgreSQL; none answered")
    return url


@pytest.fixture
async def create_tables() -> AsyncIterator[Callable[[str, MetaData], Awaitable[AsyncEngine]]]:
    """Creates a schema's tables on the database at a URL; returns an engine for them."""
    engines: list[AsyncEngine] = []

    async def create(url: str, metadata: MetaData) -> AsyncEngine:
        assert metadata.schema is not None
        engine = create_engine(url, schema=metadata.schema)
        engines.append(engine)
        async with engine.begin() as connection:
            if not is_sqlite(url):  # SQLite has no schemas: the engine translates it away
                await connection.exec_driver_sql(f'CREATE SCHEMA "{metadata.schema}"')
            await connection.run_sync(metadata.create_all)
        return engine

    yield create
    for engine in engines:
        await engine.dispose()
