"""Server CPU per POST /v1/enquiries, requests one at a time, against the minimal app.

    .tools/bin/uv run python bench/cpu_per_request.py [--requests 1000] [--profile]

On a machine whose cores are shared, throughput measures the neighbours as much as the code;
CPU seconds per request (the server process's, from /proc) do not. Serves the minimal app,
enquiry-api without its relay and enquiry-api as in production, each sent `--requests` POSTs
one after another on one connection after 200 to warm up. `--profile` adds a cProfile run on
process time (bench/apps/profiled_app.py) and prints the functions by cumulative CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import pstats
import time
from pathlib import Path

import httpx
import intake
from common import (
    BENCH_DIR,
    WORK_DIR,
    Server,
    api_key,
    broker,
    cpu_seconds,
    enquiry_env,
    scratch_database,
)

WARM_UP = 200
APPS = {
    "minimal": ("minimal_app:create_app", BENCH_DIR),
    "enquiry-api without relay": ("profiled_app:create_app_without_relay", BENCH_DIR / "apps"),
    "enquiry-api": ("enquiry_api.main:create_app", None),
}


async def _measure(
    app: tuple[str, Path | None], env: dict[str, str], token: str, requests: int
) -> tuple[float, float]:
    body = intake._body()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with Server(app[0], env=env, app_dir=app[1]) as server:
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as client:
            for _ in range(WARM_UP):
                (await client.post("/v1/enquiries", content=body)).raise_for_status()
            await asyncio.sleep(1)  # the relay publishes the warm-up
            before = cpu_seconds(server.process.pid)
            started = time.perf_counter()
            for _ in range(requests):
                (await client.post("/v1/enquiries", content=body)).raise_for_status()
            wall = time.perf_counter() - started
            await asyncio.sleep(1)  # and the last requests' events, which count too
            cpu = cpu_seconds(server.process.pid) - before
    return cpu / requests * 1000, wall / requests * 1000


async def main(requests: int, profile: bool) -> None:
    keys, token = api_key(["enquiries:write"])
    with broker() as dev:
        async with scratch_database("cpu", service="enquiry-api") as url:
            env = enquiry_env(url, dev.bootstrap_servers, keys)
            for name, app in APPS.items():
                cpu, wall = await _measure(app, env, token, requests)
                print(f"{name}: {cpu:.2f} ms of server CPU per request ({wall:.1f} ms wall)")
            if profile:
                output = WORK_DIR / "intake-cpu.prof"
                env = {**env, "PROFILE_OUTPUT": str(output)}
                app = ("profiled_app:create_app_cpu_profiled", BENCH_DIR / "apps")
                await _measure(app, env, token, 1000)
                pstats.Stats(str(output)).sort_stats("cumulative").print_stats(60)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--profile", action="store_true", help="and a cProfile of CPU time")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.requests, arguments.profile))
