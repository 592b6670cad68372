"""Profiles a service's hot path under load with pyinstrument: text and HTML reports.

    .tools/bin/uv run python bench/profile.py intake|standby|relay|sla [--interval 0.001]

Serves the app as production does (uvicorn, uvloop, httptools) in a process of its own under
pyinstrument (a statistical profiler: it samples the Python stack every `--interval` seconds, so
the C side of uvloop, httptools and asyncpg shows as time in the event loop's `run` or in the
awaiting frames), started once the app is imported and built (start-up imports would otherwise
be the largest subtree), drives the hot path, stops it with SIGINT and renders the session as
var/bench/profiles/<name>.txt (the call tree, as text) and <name>.html (interactive), keeping
<name>.pyisession (`pyinstrument --load <file> -r text|html|speedscope` renders it again).

- intake: enquiry-api, POST /v1/enquiries closed loop (32 connections) for 10 s.
- standby: enquiry-api, five 1,000-record POST /v1/standby/call-records (one client).
- relay: enquiry-api's outbox relay draining 20,000 enquiry.opened rows committed at once.
- sla: sla-monitor's consumer evaluating a backlog of 20,000 call.offered + call.answered
  events put on contact.events before it starts (two clocks per call, started and met).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import asyncpg
import httpx
import intake
import orjson
import standby
from common import ROOT, WORK_DIR, api_key, broker, enquiry_env, log, plain_dsn, scratch_database
from e2e import LagSampler, contact_time

from contact_common.bus.kafka import create_producer, ensure_topics
from contact_devtools.broker import free_port, wait_for_port

PROFILES = WORK_DIR / "profiles"
APPS = {
    "intake": ("enquiry-api", "enquiry_api.main:create_app"),
    "standby": ("enquiry-api", "enquiry_api.main:create_app"),
    "relay": ("enquiry-api", "enquiry_api.main:create_app"),
    "sla": ("sla-monitor", "sla_monitor.main:create_app"),
}
RELAY_BACKLOG = 20_000
SLA_CALLS = 10_000


def serve(app: str, port: int, interval: float, session: Path) -> None:
    """Runs uvicorn in this process under pyinstrument, from after the app is built to its stop."""
    import uvicorn
    from pyinstrument import Profiler

    config = uvicorn.Config(
        app,
        factory=True,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )
    config.load()  # imports and builds the app outside the profile
    profiler = Profiler(interval=interval, async_mode="disabled")
    profiler.start()
    try:
        uvicorn.Server(config).run()  # until SIGINT, which uvicorn raises again once it stopped
    except KeyboardInterrupt:
        pass
    finally:
        profiler.stop().save(str(session))


def _pyinstrument(*arguments: str) -> None:
    subprocess.run([sys.executable, "-m", "pyinstrument", *arguments], check=True, cwd=ROOT)


def render(session: Path) -> list[Path]:
    """Writes the text and HTML reports of a saved session; returns their paths."""
    text, html = session.with_suffix(".txt"), session.with_suffix(".html")
    _pyinstrument("--load", str(session), "-r", "text", "--no-color", "-o", str(text))
    _pyinstrument("--load", str(session), "-r", "html", "-o", str(html))
    return [text, html]


async def _wait_until(condition, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"profile: {what} not within {timeout:.0f} s")
        await asyncio.sleep(0.2)


async def _unpublished(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchval(
            "SELECT count(*) FROM enquiry.outbox_message WHERE published_at IS NULL"
        )
    finally:
        await connection.close()


async def _publish_calls(bootstrap: str, count: int) -> None:
    """call.offered + call.answered for `count` calls in office hours, straight to the topic."""
    sys.path.insert(0, str(ROOT / "services" / "sla-monitor" / "tests"))
    from upstream_events import Call, publish

    producer = create_producer(bootstrap, client_id="profile")
    await producer.start()
    try:
        at = contact_time(datetime.now(UTC))
        chunk = []
        for _ in range(count):
            call = Call(at)
            chunk += [call.offered(), call.answered(timedelta(seconds=5))]
            if len(chunk) >= 5000:
                await publish(producer, chunk)
                chunk = []
        await publish(producer, chunk)
    finally:
        await producer.stop()


async def _drive(which: str, base: str, token: str, url: str, bootstrap: str) -> None:
    if which == "intake":
        body = WORK_DIR / "enquiry-body.json"
        body.write_bytes(intake._body())
        print(await intake._load(f"{base}/v1/enquiries", body, token, rate=0, duration=10))
    elif which == "standby":
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=300
        ) as client:
            for batch in range(5):
                answer = await client.post(
                    "/v1/standby/call-records",
                    content=orjson.dumps(standby._records(f"profile-{batch}", 1000)),
                    headers={"Content-Type": "application/json"},
                )
                answer.raise_for_status()
        await _wait_until(lambda: _zero(_unpublished(plain_dsn(url))), 120, "the relay")
    elif which == "relay":
        from contact_common.db import create_engine, create_session_factory
        from contact_common.events import Channel, EnquiryOpened, EnquiryOpenedData
        from enquiry_api.models import load_all_tables, outbox

        load_all_tables()
        engine = create_engine(url, schema="enquiry")
        events = [
            EnquiryOpened.from_data(
                EnquiryOpenedData(
                    enquiry_id=uuid4(),
                    channel=Channel.web_form,
                    service_area="waste",
                    received_at=datetime.now(UTC),
                    reference=f"ENQ-2026-{i:06d}",
                ),
                source="/enquiry-api",
            )
            for i in range(RELAY_BACKLOG)
        ]
        async with create_session_factory(engine)() as session, session.begin():
            await outbox.add_many(session, events)
        await engine.dispose()
        started = time.monotonic()
        await _wait_until(lambda: _zero(_unpublished(plain_dsn(url))), 300, "the relay")
        log(f"relay: {RELAY_BACKLOG:,} rows published in {time.monotonic() - started:.1f} s")
    else:
        started = time.monotonic()
        async with LagSampler(bootstrap, groups={"sla-monitor": ("contact.events",)}) as lag:

            async def caught_up() -> bool:
                lags, _ = await lag.measure()
                return lags["sla-monitor"] == 0

            await _wait_until(caught_up, 600, "sla-monitor's consumer")
        log(f"sla: {2 * SLA_CALLS:,} events consumed in {time.monotonic() - started:.1f} s")


async def _zero(count) -> bool:  # noqa: ANN001
    return await count == 0


async def main(which: str, interval: float) -> None:
    PROFILES.mkdir(parents=True, exist_ok=True)
    service, app = APPS[which]
    keys, token = api_key(["enquiries:write", "standby:write", "sla:read"])
    session = PROFILES / f"{which}.pyisession"
    with broker() as dev:
        bootstrap = dev.bootstrap_servers
        await ensure_topics(bootstrap)
        async with scratch_database("profile", service=service) as url:
            if which == "sla":
                await _publish_calls(bootstrap, SLA_CALLS)  # a backlog waiting at its start
            port = free_port()
            command = [sys.executable, __file__, "serve", app, "--port", str(port)]
            command += ["--interval", str(interval), "--session", str(session)]
            env = {
                **os.environ,
                **enquiry_env(url, bootstrap, keys),
                "SLA_DATABASE_URL": url,
                "SLA_LOG_LEVEL": "WARNING",
            }
            process = await asyncio.to_thread(subprocess.Popen, command, env=env, cwd=ROOT)
            try:
                wait_for_port("127.0.0.1", port, timeout=60)
                await asyncio.sleep(2)
                await _drive(which, f"http://127.0.0.1:{port}", token, url, bootstrap)
            finally:
                process.send_signal(signal.SIGINT)
                await asyncio.to_thread(process.wait, 120)
    for path in render(session):
        log(f"wrote {path.relative_to(ROOT)}")
    print(session.with_suffix(".txt").read_text())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("load", choices=[*sorted(APPS), "serve"])
    parser.add_argument("app", nargs="?", help="serve only: the app factory")
    parser.add_argument(
        "--interval", type=float, default=0.001, help="seconds between samples (pyinstrument -i)"
    )
    parser.add_argument("--port", type=int, help="serve only")
    parser.add_argument("--session", type=Path, help="serve only: where to save the session")
    arguments = parser.parse_args()
    if arguments.load == "serve":  # the profiled server process that main() starts
        serve(arguments.app, arguments.port, arguments.interval, arguments.session)
    else:
        asyncio.run(main(arguments.load, arguments.interval))
