"""Database helpers: one async engine and session factory per service, PostgreSQL or SQLite.

Each service owns a PostgreSQL schema (`enquiry`, `complaints`, `sla`, `metrics`). SQLite has
no schemas, so there every service keeps its own file and the schema is translated away.

A batch's statement on PostgreSQL can take one array per column (`unnest`, `= ANY`): one
prepared statement whatever the batch's size, with no SQL compiled per batch and no per-value
Python on the way in. `postgresql_name` and `postgresql_arrays` write such statements as text.

`after_commit` lets a write ask for a callback once its transaction commits (the outbox wakes
its relay so); the sessions of `create_session_factory` run them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import DateTime, MetaData, Table, TypeDecorator, event, exc, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session

# Constraint names that Alembic can find again on both databases (polar's convention).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# The dialect module's `dialect` alias carries no annotations.
_POSTGRESQL: Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]


def service_metadata(schema: str) -> MetaData:
    """A MetaData for one service's schema, with the shared naming convention."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


if TYPE_CHECKING:

    class TableModels(DeclarativeBase):
        # Each model maps a Table; DeclarativeBase types __table__ as any FromClause.
        __table__: ClassVar[Table]

else:

    class TableModels:
        """Mixed into a service's declarative base, before `DeclarativeBase`: models are Tables.

        The base is a class statement in the service, so that mypy sees a class:
        `class Base(TableModels, DeclarativeBase): metadata = service_metadata("enquiry")`.
        """


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on both databases (SQLite would hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def postgresql_name(table: Table) -> str:
    """The table's quoted name with its schema, for a PostgreSQL statement written as text."""
    return _POSTGRESQL.identifier_preparer.format_table(table)


def postgresql_arrays(table: Table, names: Sequence[str]) -> str:
    """`unnest` arguments: one typed array parameter per column, named after the column."""
    return ", ".join(
        f"CAST(:{name} AS {table.c[name].type.compile(dialect=_POSTGRESQL)}[])" for name in names
    )


def is_postgresql(session: AsyncSession) -> bool:
    """True if the session runs on PostgreSQL (else SQLite, the embedded default)."""
    return session.get_bind().dialect.name == "postgresql"


def insert_for(session: AsyncSession, table: Table) -> Any:
    """An INSERT on the session's dialect (PostgreSQL or SQLite), so `on_conflict_do_*` works on
    both: the one place repositories choose between them."""
    from sqlalchemy.dialects import sqlite

    return (postgresql.insert if is_postgresql(session) else sqlite.insert)(table)


def is_sqlite(url: str) -> bool:
    """True for the embedded default."""
    return url.startswith("sqlite")


def create_engine(url: str, *, schema: str, echo: bool = False, **kwargs: Any) -> AsyncEngine:
    """An engine for one service's schema on PostgreSQL or SQLite."""
    if is_sqlite(url):
        engine = create_async_engine(
            url,
            echo=echo,
            execution_options={"schema_translate_map": {schema: None}},
            connect_args={"timeout": 30},
            **kwargs,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets readers and the relay work beside a writer; busy_timeout waits for locks.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    # No pre-ping: with asyncpg it costs three round trips (BEGIN, ";", ROLLBACK) on every
    # checkout, a third of a small request's. A connection the server ended (restart,
    # pg_terminate_backend) is closed on our side within milliseconds, which the checkout below
    # sees for free; one that dies mid-request fails that request, and SQLAlchemy then
    # invalidates the whole pool, so the next checkouts reconnect.
    kwargs.setdefault("pool_pre_ping", False)
    engine = create_async_engine(url, echo=echo, **kwargs)

    @event.listens_for(engine.sync_engine, "checkout")
    def _discard_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        raw = getattr(dbapi_connection, "_connection", None)
        if raw is not None and raw.is_closed():
            # The pool discards this connection and checks out (or opens) another.
            raise exc.DisconnectionError("the server closed this pooled connection")

    return engine


class UnitOfWork(Session):
    """The sessions of `create_session_factory`: they run what `after_commit` asked for."""


# The callbacks a transaction asked for, in `session.info`, by `after_commit`. The listeners are
# on this session class, once: an `event.listen` on each session cost ~20 µs of CPU a request.
_AFTER_COMMIT = "contact_common.db.after_commit"


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Calls `callback` once the session's transaction commits (not if it rolls back).

    Asked for twice in one transaction, it is called once.
    """
    if not isinstance(session.sync_session, UnitOfWork):
        raise TypeError("after_commit needs a session from create_session_factory")
    session.info.setdefault(_AFTER_COMMIT, {})[callback] = None


@event.listens_for(UnitOfWork, "after_commit")
def _committed(session: Session) -> None:
    for callback in session.info.pop(_AFTER_COMMIT, ()):
        callback()


@event.listens_for(UnitOfWork, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit and run `after_commit` callbacks."""
    return async_sessionmaker(
        engine, expire_on_commit=False, autoflush=False, sync_session_class=UnitOfWork
    )


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits if the block returns, rolls back if it raises."""
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def ping(engine: AsyncEngine) -> None:
    """Raises if the database cannot be reached."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
