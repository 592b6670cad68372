"""Tests for every service's Alembic history: it applies on PostgreSQL (into the service's own
schema) and on SQLite, applying it again changes nothing, and the models and the migrated
database agree, so a model changed without a migration fails here."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, String, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.schema import BLANK_SCHEMA

import complaints_api
import enquiry_api
import metrics_api
import sla_monitor
from complaints_api.models import metadata as complaints_metadata
from contact_common.db import create_engine, is_sqlite
from contact_common.migrations import alembic_config, upgrade
from enquiry_api.models import metadata as enquiry_metadata
from metrics_api.models import metadata as metrics_metadata
from sla_monitor.models import metadata as sla_metadata

SERVICES_DIR = Path(__file__).resolve().parents[3] / "services"


def _every_table(package: ModuleType, metadata: MetaData, *expected: str) -> set[str]:
    """Imports every `models` module of a service, so `metadata` holds every table it defines."""
    for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        if module.name.rsplit(".", 1)[-1] == "models":
            importlib.import_module(module.name)
    names = {table.name for table in metadata.tables.values()}
    assert set(expected) <= names, f"{expected} missing from the models"
    return names


# service folder -> (its schema, its models' metadata, the tables its history creates)
SERVICES: dict[str, tuple[str, MetaData, set[str]]] = {
    "enquiry-api": (
        "enquiry",
        enquiry_metadata,
        _every_table(enquiry_api, enquiry_metadata, "outbox_message"),
    ),
    "complaints-api": (
        "complaints",
        complaints_metadata,
        _every_table(complaints_api, complaints_metadata, "outbox_message"),
    ),
    "sla-monitor": (
        "sla",
        sla_metadata,
        _every_table(sla_monitor, sla_metadata, "outbox_message", "inbox_message"),
    ),
    "metrics-api": (
        "metrics",
        metrics_metadata,
        _every_table(metrics_api, metrics_metadata, "inbox_message"),
    ),
}

every_service = pytest.mark.parametrize("service", list(SERVICES))


@pytest.fixture
def postgres_url(database_url: str) -> str:
    if is_sqlite(database_url):
        pytest.skip("needs PostgreSQL; none answered")
    return database_url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/service.db"


@pytest.fixture(params=["postgresql", "sqlite"])
def any_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database the services run on."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/service.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def engines() -> AsyncIterator[list[AsyncEngine]]:
    """Engines the test opens, disposed afterwards."""
    opened: list[AsyncEngine] = []
    yield opened
    for engine in opened:
        await engine.dispose()


def head_of(service: str) -> str:
    script = ScriptDirectory.from_config(alembic_config(SERVICES_DIR / service, "sqlite://"))
    head = script.get_current_head()
    assert head is not None
    return head


def _include_name(schema: str | None) -> Any:
    # The filter of contact_common.migrations: a service sees only its own schema.
    return lambda name, type_, _parent: type_ != "schema" or name == schema


def _differences(connection: Connection, metadata: MetaData, schema: str) -> list[Any]:
    sqlite = connection.dialect.name == "sqlite"
    context = MigrationContext.configure(
        connection,
        opts={
            "target_metadata": metadata,
            "version_table": "alembic_version",
            "version_table_schema": None if sqlite else schema,
            "include_schemas": not sqlite,
            # On SQLite the service's schema is the database's only one, which Alembic calls None.
            "include_name": _include_name(None if sqlite else schema),
            "compare_type": True,
        },
    )
    return compare_metadata(context, _as_seen_by(metadata, sqlite))


def _as_seen_by(metadata: MetaData, sqlite: bool) -> MetaData:
    # SQLite has no schemas: the engine translates the schema away, so compare without it.
    if not sqlite:
        return metadata
    translated = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        copy = table.to_metadata(
            translated, schema=None, referred_schema_fn=lambda *_: BLANK_SCHEMA
        )
        # An index from `index=True` is named again for the copy, without the schema in its
        # name; the database has the name the service's (schema-qualified) models give it.
        names = {tuple(c.name for c in index.columns): index.name for index in table.indexes}
        for index in copy.indexes:
            index.name = names[tuple(c.name for c in index.columns)]
    return translated


def _snapshot(connection: Connection, schema: str) -> dict[str, Any]:
    sqlite = connection.dialect.name == "sqlite"
    inspector = inspect(connection)
    where = None if sqlite else schema
    tables = {}
    for name in sorted(inspector.get_table_names(schema=where)):
        columns = [
            (c["name"], str(c["type"]), c["nullable"])
            for c in inspector.get_columns(name, schema=where)
        ]
        indexes = sorted(i["name"] or "" for i in inspector.get_indexes(name, schema=where))
        tables[name] = (columns, indexes)
    version_table = "alembic_version" if sqlite else f'"{schema}".alembic_version'
    versions = connection.execute(text(f"SELECT version_num FROM {version_table}")).scalars()
    return {"tables": tables, "versions": sorted(versions)}


async def _open(engines: list[AsyncEngine], url: str, schema: str) -> AsyncEngine:
    engine = create_engine(url, schema=schema)
    engines.append(engine)
    return engine


# -- applying ------------------------------------------------------------------------------------


@every_service
async def test_migrations_apply_on_postgresql_into_the_services_schema(
    service: str, postgres_url: str, engines: list[AsyncEngine]
) -> None:
    schema, _, tables = SERVICES[service]

    await upgrade(SERVICES_DIR / service, postgres_url)

    engine = await _open(engines, postgres_url, schema)
    async with engine.connect() as connection:
        snapshot = await connection.run_sync(_snapshot, schema)
        in_public = await connection.run_sync(
            lambda sync: inspect(sync).get_table_names(schema="public")
        )
    assert set(snapshot["tables"]) == tables | {"alembic_version"}
    assert snapshot["versions"] == [head_of(service)]
    assert in_public == [], "a service's tables belong in its own schema"


@every_service
async def test_migrations_apply_on_sqlite(
    service: str, sqlite_url: str, engines: list[AsyncEngine]
) -> None:
    schema, _, tables = SERVICES[service]

    await upgrade(SERVICES_DIR / service, sqlite_url)

    engine = await _open(engines, sqlite_url, schema)
    async with engine.connect() as connection:
        snapshot = await connection.run_sync(_snapshot, schema)
    assert set(snapshot["tables"]) == tables | {"alembic_version"}
    assert snapshot["versions"] == [head_of(service)]


@every_service
async def test_applying_twice_changes_nothing(
    service: str, any_url: str, engines: list[AsyncEngine]
) -> None:
    schema = SERVICES[service][0]
    await upgrade(SERVICES_DIR / service, any_url)
    engine = await _open(engines, any_url, schema)
    async with engine.connect() as connection:
        before = await connection.run_sync(_snapshot, schema)

    await upgrade(SERVICES_DIR / service, any_url)

    async with engine.connect() as connection:
        after = await connection.run_sync(_snapshot, schema)
    assert after == before


async def test_all_services_share_one_postgresql_database(
    postgres_url: str, engines: list[AsyncEngine]
) -> None:
    for service in SERVICES:
        await upgrade(SERVICES_DIR / service, postgres_url)

    for service, (schema, metadata, tables) in SERVICES.items():
        engine = await _open(engines, postgres_url, schema)
        async with engine.connect() as connection:
            snapshot = await connection.run_sync(_snapshot, schema)
            differences = await connection.run_sync(_differences, metadata, schema)
        assert set(snapshot["tables"]) == tables | {"alembic_version"}
        assert snapshot["versions"] == [head_of(service)]
        # Another service's schema next door is not this service's drift.
        assert differences == [], f"{service}: {differences}"


# -- the models and the migrations agree --------------------------------------------------------


@every_service
async def test_models_match_the_migrated_database(
    service: str, any_url: str, engines: list[AsyncEngine]
) -> None:
    schema, metadata, _ = SERVICES[service]
    await upgrade(SERVICES_DIR / service, any_url)

    engine = await _open(engines, any_url, schema)
    async with engine.connect() as connection:
        differences = await connection.run_sync(_differences, metadata, schema)

    assert differences == [], (
        f"{service}'s models differ from its migrations; add a migration: {differences}"
    )


async def test_a_model_change_without_a_migration_is_found(
    any_url: str, engines: list[AsyncEngine]
) -> None:
    schema, metadata, _ = SERVICES["enquiry-api"]
    await upgrade(SERVICES_DIR / "enquiry-api", any_url)
    changed = MetaData(schema=schema, naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        table.to_metadata(changed)
    changed.tables[f"{schema}.outbox_message"].append_column(Column("trace_id", String(64)))

    engine = await _open(engines, any_url, schema)
    async with engine.connect() as connection:
        differences = await connection.run_sync(_differences, changed, schema)

    assert [(d[0], d[2], d[3].name) for d in differences] == [
        ("add_column", "outbox_message", "trace_id")
    ]
