"""Alembic for every service: one history per service, in its own schema, on PostgreSQL or SQLite.

A service's `migrations/env.py` calls `run_env(metadata)`; `upgrade(...)` applies a service's
history from code (make run, tests), in a worker thread because Alembic's env runs its own loop.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from contact_common.db import create_engine, is_sqlite


def _configure(connection: Connection, metadata: MetaData, schema: str, sqlite: bool) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table="alembic_version",
        version_table_schema=None if sqlite else schema,
        include_schemas=not sqlite,
        render_as_batch=sqlite,  # SQLite alters tables by copying them
        compare_type=True,
        # Each service sees only its own schema: another service's tables are not its business.
        include_name=lambda name, type_, _parent: type_ != "schema" or name == schema,
    )


def run_env(metadata: MetaData) -> None:
    """The body of a service's migrations/env.py (online mode only)."""
    config = context.config
    url = config.get_main_option("sqlalchemy.url") or ""
    schema = metadata.schema or "public"
    sqlite = is_sqlite(url)

    async def run() -> None:
        engine = create_engine(url, schema=schema)
        async with engine.connect() as connection:
            if not sqlite:
                await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                await connection.commit()
            await connection.run_sync(_configure, metadata, schema, sqlite)
            await connection.run_sync(lambda _: _run_migrations())
            await connection.commit()
        await engine.dispose()

    asyncio.run(run())


def _run_migrations() -> None:
    with context.begin_transaction():
        context.run_migrations()


def alembic_config(service_dir: Path, url: str) -> Config:
    """The Alembic config of the service in `service_dir`, pointed at `url`."""
    config = Config(str(service_dir / "alembic.ini"))
    config.set_main_option("script_location", str(service_dir / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(service_dir: Path, url: str, revision: str = "head") -> None:
    """Applies the service's migrations up to `revision`."""
    await asyncio.to_thread(command.upgrade, alembic_config(service_dir, url), revision)
