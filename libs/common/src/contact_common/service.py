"""The frame of every service: settings, database, key store, background workers, health, metrics.

`ServiceRuntime` owns what lives as long as the process; `create_app` wires it into FastAPI with
the shared error handling, `/healthz`, `/readyz`, `/metrics` and the lifespan that starts and
stops the service's workers (outbox relay, event consumer, timers) in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from contact_common.auth import KeyStore
from contact_common.bus.kafka import broker_reachable, ensure_topics
from contact_common.bus.relay import OutboxRelay
from contact_common.db import create_engine, create_session_factory, ping
from contact_common.errors import install_problem_handlers
from contact_common.http import BodySizeLimit, RequestMetrics
from contact_common.idempotency import serve_idempotency
from contact_common.logs import configure_logging, get_logger
from contact_common.outbox import Outbox
from contact_common.ratelimit import install_rate_limit
from contact_common.settings import IntakeSettings, ServiceSettings
from contact_common.tracing import Tracing, configure_tracing

log = get_logger(__name__)


class Worker(Protocol):
    """A background worker: runs until asked to stop."""

    async def run(self) -> None: ...

    def stop(self) -> None: ...


class ServiceRuntime:
    """What one service process holds for its lifetime."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.engine: AsyncEngine = create_engine(
            settings.effective_database_url,
            schema=settings.database_schema,
            echo=settings.database_echo,
        )
        self.session_factory: async_sessionmaker[AsyncSession] = create_session_factory(self.engine)
        # Off unless configured; on, the engine's statements are spans of their request or message.
        self.tracing: Tracing = configure_tracing(settings.service_name, settings)
        self.tracing.instrument_engine(self.engine)
        self.key_store = KeyStore(settings.api_keys_file)
        self.workers: list[Worker] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._topics_task: asyncio.Task[None] | None = None

    def add_worker(self, worker: Worker) -> None:
        """Registers a worker that the lifespan starts and stops."""
        self.workers.append(worker)

    def add_outbox_relay(self, outbox: Outbox) -> None:
        """Registers the worker that moves the service's outbox to the broker."""
        self.add_worker(
            OutboxRelay(
                service=self.settings.service_name,
                outbox=outbox,
                engine=self.engine,
                bootstrap_servers=self.settings.kafka_bootstrap_servers,
            )
        )

    async def start(self) -> None:
        """Creates the topics (in the background if the broker is away) and starts the workers."""
        self._topics_task = asyncio.create_task(self._ensure_topics(), name="ensure-topics")
        for worker in self.workers:
            self._tasks.append(asyncio.create_task(worker.run(), name=type(worker).__name__))

    async def _ensure_topics(self) -> None:
        try:
            await ensure_topics(
                self.settings.kafka_bootstrap_servers,
                partitions=self.settings.topic_partitions,
                timeout=3600,
            )
        except Exception as exc:  # the broker stayed away: readiness says so
            log.warning("could not create topics", error=type(exc).__name__)

    async def stop(self) -> None:
        """Stops the workers between batches, then closes the database."""
        # Still waiting for an absent broker to create topics: nothing to finish, so don't wait.
        topics_task, self._topics_task = self._topics_task, None
        if topics_task is not None and not topics_task.done():
            topics_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await topics_task
        for worker in self.workers:
            worker.stop()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=20)
            for task in pending:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*pending, return_exceptions=True)
        self._tasks.clear()
        await self.engine.dispose()
        await asyncio.to_thread(self.tracing.shutdown)  # exports the spans still buffered

    async def readiness(self) -> dict[str, str]:
        """Which dependencies answer: the database and the broker."""
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(ping(self.engine), timeout=2)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        reachable = await broker_reachable(self.settings.kafka_bootstrap_servers)
        checks["broker"] = "ok" if reachable else "unreachable"
        return checks


def _health_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": runtime.settings.service_name}

    @router.get(
        "/readyz",
        summary="The database and the broker are reachable",
        responses={503: {"description": "A dependency is unreachable"}},
    )
    async def readyz(response: Response) -> dict[str, Any]:
        checks = await runtime.readiness()
        ready = all(v == "ok" for v in checks.values())
        if not ready:
            response.status_code = 503
        return {"status": "ready" if ready else "not ready", "checks": checks}

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def create_app(
    *,
    runtime: ServiceRuntime,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    on_startup: Sequence[Callable[[], Awaitable[None]]] = (),
    version: str = "0.1.0",
    openapi_tags: Mapping[str, str] | None = None,
) -> FastAPI:
    """A FastAPI app for one service, with the shared frame around its routers.

    `openapi_tags` describes the routers' tags, name to description, in the order shown.
    """
    settings = runtime.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(
            service=settings.service_name, level=settings.log_level, json=settings.log_json
        )
        for hook in on_startup:
            await hook()
        await runtime.start()
        _freeze_startup_objects()
        log.info("service started", port=settings.port)
        try:
            yield
        finally:
            await runtime.stop()
            log.info("service stopped")

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        openapi_tags=(
            None
            if openapi_tags is None
            else [{"name": name, "description": about} for name, about in openapi_tags.items()]
        ),
    )
    app.state.runtime = runtime
    app.state.key_store = runtime.key_store
    install_problem_handlers(app)
    install_rate_limit(app, settings)
    app.add_middleware(RequestMetrics, service=settings.service_name)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Outermost, so a request refused by the frame (413, 429) is a span too.
    runtime.tracing.instrument_app(app)
    app.include_router(_health_router(runtime))
    for router in routers:
        app.include_router(router)
    return app


def keep_idempotency_keys(app: FastAPI, *, table: Table, settings: IntakeSettings) -> None:
    """Serves Idempotency-Key on the app's writes from `table`, kept and leased as `settings`
    say, with its purger among the workers of the app's runtime."""
    runtime: ServiceRuntime = app.state.runtime
    serve_idempotency(
        app,
        table=table,
        factory=runtime.session_factory,
        add_worker=runtime.add_worker,
        retention=timedelta(hours=settings.idempotency_retention_hours),
        lease=timedelta(seconds=settings.idempotency_lease_seconds),
    )


_frozen = False


def post_route(
    router: APIRouter,
    route: Callable[..., Any],
    *,
    path: str,
    name: str,
    body: Any,
    **options: Any,
) -> None:
    """Adds `route`, a handler a factory made for one of several like POST routes, at `path`:
    `body` is the type FastAPI validates and documents for its `body` parameter, `name` the
    function name FastAPI gives the operation (its OpenAPI operationId); `options` as for
    `APIRouter.post`."""
    route.__annotations__["body"] = body
    route.__name__ = route.__qualname__ = name
    router.post(path, **options)(route)


def _freeze_startup_objects() -> None:
    """Moves what start-up built (modules, the app, its models and schemas) out of the garbage
    collector's sight, once per process.

    A full collection walks every tracked object; with these hundreds of thousands in the heap,
    one paused enquiry-api for 100-150 ms at 200 requests/s, every few seconds, and that pause
    was its p99. Frozen objects are still freed by reference counting; only cycles among them
    are kept, and start-up objects live as long as the process anyway.
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commits if the route returns, rolls back if it raises."""
    runtime: ServiceRuntime = request.app.state.runtime
    async with runtime.session_factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# scope="function": the commit happens when the route returns, before the response is sent, so a
# client never sees 201 for a transaction that then failed to commit.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
