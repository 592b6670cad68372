"""Benchmark (not a test): the score card for a financial year over 10 million contacts, against
one full scan of the equivalent raw events, in the same run on the same PostgreSQL.

    .tools/bin/uv run python services/metrics-api/bench/bench_scorecard.py [--contacts 10000000]

It creates a scratch database, applies metrics-api's migrations, fills the read models for
financial year 2030-31 with generate_series (the aggregates 10 million contacts make: calls,
enquiries on every channel, visits, feedback, complaints, SLA clocks), and a raw events table
with one row per contact (the least a raw store could hold). It then serves metrics-api on a real
port, times `GET /v1/scorecard?period=2030-31` (median of several runs, after one warm-up), and
times one full scan of the raw events computing the same figures. Goal: under 1% of the scan.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from contact_common.auth import issue_key
from contact_common.migrations import upgrade
from contact_devtools.testing import LiveServer
from metrics_api.config import Settings
from metrics_api.main import create_app
from metrics_api.readmodel.models import COUNTER_TABLES, MONTHLY

SERVICE_DIR = Path(__file__).resolve().parents[1]
SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
AREAS = 10
CHANNELS = (
    "'phone','email','web_form','portal','face_to_face','letter','voicemail','social_media',"
    "'chat','standby'"
)

# Read models for 2030-31 (365 days). Shares of contacts: 60% calls, 33% enquiries, 3% visits,
# 3% feedback, 1% complaints; every enquiry, call and visit has an SLA clock.
FILL = """
INSERT INTO metrics.enquiry_day (received_on, channel, service_area, opened, resolved, first_point)
SELECT d::date, c, 'area_' || a, n, n * 95 / 100, n * 9 / 10
FROM generate_series('2030-04-01'::date, '2031-03-31'::date, '1 day') d,
     unnest(ARRAY[{channels}]) c, generate_series(1, {areas}) a,
     LATERAL (SELECT ({contacts} * 33 / 100 / (365 * 10 * {areas}))::int AS n) k;

INSERT INTO metrics.call_day (offered_on, channel, service_area, in_office_hours, offered, answered,
    answered_within_target, abandoned, short_abandoned, wait_seconds_sum, wait_seconds_max)
SELECT d::date, c, 'area_' || a, o, n, n * 9 / 10, n * 4 / 10, n / 10, n / 30, n * 9 / 10 * 85.0,
       540 + a
FROM generate_series('2030-04-01'::date, '2031-03-31'::date, '1 day') d,
     unnest(ARRAY['phone', 'standby']) c, generate_series(1, {areas}) a,
     unnest(ARRAY[true, false]) o,
     LATERAL (SELECT ({contacts} * 60 / 100 / (365 * 2 * {areas} * 2))::int AS n) k;

INSERT INTO metrics.call_wait_day (offered_on, channel, wait_second, answered)
SELECT d::date, c, s, greatest(1, ({contacts} * 54 / 100 / (365 * 2 * 601))::int)
FROM generate_series('2030-04-01'::date, '2031-03-31'::date, '1 day') d,
     unnest(ARRAY['phone', 'standby']) c, generate_series(0, 600) s;

INSERT INTO metrics.visit_day (arrived_on, service_area, arrived, attended, attended_within_target,
    wait_seconds_sum, wait_seconds_max)
SELECT d::date, 'area_' || a, n, n, n * 8 / 10, n * 200.0, 900
FROM generate_series('2030-04-01'::date, '2031-03-31'::date, '1 day') d,
     generate_series(1, {areas}) a,
     LATERAL (SELECT ({contacts} * 3 / 100 / (365 * {areas}))::int AS n) k;

INSERT INTO metrics.feedback_day (submitted_on, channel, service_area, responses, score_sum)
SELECT d::date, c, 'area_' || a, n, n * 4
FROM generate_series('2030-04-01'::date, '2031-03-31'::date, '1 day') d,
     unnest(ARRAY[{channels}]) c, generate_series(1, {areas}) a,
     LATERAL (SELECT ({contacts} * 3 / 100 / (365 * 10 * {areas}))::int AS n) k;

INSERT INTO metrics.complaint_day (day, channel, service_area, stage, received, decided, upheld,
    partly_upheld, not_upheld)
SELECT d::date, c, 'area_' || a, s, n, n, n / 3, n / 3, n - 2 * (n / 3)
FROM generate_series('2030-04-01'::date, '2031-03-31'::date, '1 day') d,
     unnest(ARRAY[{channels}]) c, generate_series(1, {areas}) a,
     unnest(ARRAY['stage_1', 'stage_2', 'ombudsman']) s,
     LATERAL (SELECT greatest(1, ({contacts} / 100 / (365 * 10 * {areas} * 3))::int) AS n) k;

INSERT INTO metrics.sla_day (due_on, commitment, channel, service_area, met, breached)
SELECT d::date, m, c, 'area_' || a, n * 9 / 10, n - n * 9 / 10
FROM generate_series('2030-04-01'::date, '2031-03-31'::date, '1 day') d,
     unnest(ARRAY['phone-answer', 'phone-wait-max', 'reception-attend', 'email-acknowledge',
                  'email-respond', 'letter-respond', 'voicemail-respond']) m,
     unnest(ARRAY[{channels}]) c, generate_series(1, {areas}) a,
     LATERAL (SELECT greatest(1, ({contacts} / (365 * 7 * 10 * {areas}))::int) AS n) k;
"""

RAW = """
CREATE UNLOGGED TABLE bench_raw_event (
    id bigint PRIMARY KEY,
    type text NOT NULL,
    channel text NOT NULL,
    service_area text NOT NULL,
    occurred_at timestamptz NOT NULL,
    first_point boolean,
    wait_seconds real,
    score smallint,
    outcome text
);
INSERT INTO bench_raw_event
SELECT i,
       CASE WHEN i % 100 < 60 THEN 'call.answered' WHEN i % 100 < 93 THEN 'enquiry.resolved'
            WHEN i % 100 < 96 THEN 'visit.attended' WHEN i % 100 < 99 THEN 'feedback.submitted'
            ELSE 'complaint.responded' END,
       (ARRAY[{channels}])[1 + i % 10],
       'area_' || (1 + i % {areas}),
       timestamptz '2030-04-01 00:00+01' + (i % 31536000) * interval '1 second',
       i % 10 <> 0,
       (i % 601)::real,
       (1 + i % 5)::smallint,
       (ARRAY['upheld', 'partly_upheld', 'not_upheld'])[1 + i % 3]
FROM generate_series(1, {contacts}) i;
ANALYZE bench_raw_event;
"""

# The score card's figures from raw events: the one full scan a system without read models makes.
SCAN = """
SELECT count(*) FILTER (WHERE type = 'enquiry.resolved') AS enquiries,
       count(*) FILTER (WHERE type = 'enquiry.resolved' AND channel = 'portal') AS portal,
       count(*) FILTER (WHERE type = 'enquiry.resolved' AND first_point) AS first_point,
       avg(score) FILTER (WHERE type = 'feedback.submitted'
                          AND channel IN ('web_form', 'portal')) AS satisfaction,
       count(*) FILTER (WHERE type = 'complaint.responded' AND outcome = 'upheld') AS upheld,
       count(*) FILTER (WHERE type = 'complaint.responded') AS decided,
       avg(wait_seconds) FILTER (WHERE type = 'call.answered' AND channel = 'phone') AS mean_wait,
       max(wait_seconds) FILTER (WHERE type = 'call.answered' AND channel = 'phone') AS max_wait
FROM bench_raw_event
WHERE occurred_at >= timestamptz '2030-04-01 00:00+01'
  AND occurred_at < timestamptz '2031-04-01 00:00+01'
"""


def _rollups() -> str:
    """The monthly roll-ups of the daily tables, as the consumer keeps them."""
    statements = []
    for day_name, month in MONTHLY.items():
        day = COUNTER_TABLES[day_name]
        keys = [c.name for c in day.primary_key.columns]
        values = [c.name for c in day.columns if not c.primary_key]
        select = [f"date_trunc('month', {keys[0]})::date", *keys[1:]]
        select += [f"{'max' if v.endswith('_max') else 'sum'}({v})" for v in values]
        statements.append(
            f"INSERT INTO metrics.{month.name} ({', '.join(keys + values)}) "
            f"SELECT {', '.join(select)} FROM metrics.{day_name} "
            f"GROUP BY {', '.join(str(i + 1) for i in range(len(keys)))};"
        )
    return "\n".join(statements)


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _timed_get(client: httpx.AsyncClient, path: str, runs: int) -> list[float]:
    await client.get(path)  # warm-up: connections, plans, caches
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = await client.get(path)
        times.append(time.perf_counter() - started)
        response.raise_for_status()
    return times


async def main(contacts: int, runs: int, keep: bool) -> None:
    name = f"bench_metrics_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(_dsn(SERVER))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    try:
        await upgrade(SERVICE_DIR, url)
        connection = await asyncpg.connect(_dsn(url))
        try:
            values = {"contacts": contacts, "areas": AREAS, "channels": CHANNELS}
            started = time.perf_counter()
            await connection.execute(FILL.format(**values))
            await connection.execute(_rollups())
            await connection.execute("ANALYZE")
            fill_seconds = time.perf_counter() - started
            started = time.perf_counter()
            await connection.execute(RAW.format(**values))
            raw_seconds = time.perf_counter() - started
            sizes = {}
            for table in ("enquiry_day", "call_day", "call_wait_day", "complaint_day", "sla_day"):
                sizes[table] = await connection.fetchval(f"SELECT count(*) FROM metrics.{table}")
            raw_rows = await connection.fetchval("SELECT count(*) FROM bench_raw_event")
            # One full scan, as it would run in production: the first time it is asked.
            started = time.perf_counter()
            await connection.fetch(SCAN)
            scan_seconds = time.perf_counter() - started
            started = time.perf_counter()
            await connection.fetch(SCAN)
            warm_scan_seconds = time.perf_counter() - started
        finally:
            await connection.close()

        with tempfile.TemporaryDirectory() as scratch:
            keys = Path(scratch) / "keys.json"
            token = issue_key(keys, name="bench", scopes=["metrics:read"])
            settings = Settings(
                database_url=url,
                kafka_bootstrap_servers="127.0.0.1:1",  # no broker: the read models are filled
                api_keys_file=keys,
                log_json=False,
                log_level="WARNING",
                consumer_group=f"bench-{uuid.uuid4().hex[:8]}",
            )
            async with (
                LiveServer(create_app(settings)) as server,
                httpx.AsyncClient(
                    base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
                ) as client,
            ):
                card = await _timed_get(client, "/v1/scorecard?period=2030-31", runs)
                waits = await _timed_get(client, "/v1/calls/wait-times?period=2030-31", runs)
                kpis = await _timed_get(client, "/v1/kpis?period=2030-31&by=service_area", runs)
                answer = (await client.get("/v1/scorecard?period=2030-31")).json()
    finally:
        if not keep:
            admin = await asyncpg.connect(_dsn(SERVER))
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()

    card_median = statistics.median(card)
    print(f"contacts: {contacts:,}; raw event rows: {raw_rows:,}")
    print("read model rows: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()))
    print(f"filling the read models: {fill_seconds:.1f} s; the raw events: {raw_seconds:.1f} s")
    print(
        f"one full scan of the raw events: {scan_seconds * 1000:.0f} ms "
        f"(again, warm: {warm_scan_seconds * 1000:.0f} ms)"
    )
    print(
        f"GET /v1/scorecard?period=2030-31, median of {runs}: {card_median * 1000:.1f} ms "
        f"(min {min(card) * 1000:.1f}, max {max(card) * 1000:.1f})"
    )
    print(
        f"  = {100 * card_median / scan_seconds:.2f}% of the scan "
        f"({100 * card_median / warm_scan_seconds:.2f}% of the warm scan); goal < 1%"
    )
    print(f"GET /v1/calls/wait-times (histogram, median): {statistics.median(waits) * 1000:.1f} ms")
    print(f"GET /v1/kpis?by=service_area (median): {statistics.median(kpis) * 1000:.1f} ms")
    print("score card: " + ", ".join(f"{r['kpi']}={r['actual']}" for r in answer["rows"]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.contacts, arguments.runs, arguments.keep))
    sys.exit(0)
