"""Profiles enquiry-api under the intake or standby load with pyinstrument (a sampling profiler).

    .tools/bin/uv run python bench/profile.py intake|standby [--show-all]

Serves the app (bench/apps/profiled_app.py: sampled from when it is built, so the imports stay out)
under uvicorn (uvloop, httptools), drives it, stops it with SIGINT, and prints the call tree by
wall time spent in each frame. The whole session is kept in
var/bench/<name>.pyisession (`pyinstrument --load var/bench/intake.pyisession -r html` for a
page). Time in C (uvloop, httptools, asyncpg's protocol) shows as the event loop's `run`, and
time waiting for PostgreSQL as the loop's idle `select`: read the tree under `run` for Python.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys

import httpx
import intake
import orjson
import standby
from common import BENCH_DIR, WORK_DIR, api_key, broker, enquiry_env, free_port, scratch_database

from contact_common.devbroker import wait_for_port


async def main(which: str, show_all: bool) -> None:
    keys, token = api_key(["enquiries:write", "standby:write"])
    output = WORK_DIR / f"{which}.pyisession"
    with broker() as dev:
        async with scratch_database("profile", service="enquiry-api") as url:
            port = free_port()
            command = [sys.executable, "-m", "uvicorn", "profiled_app:create_app", "--factory"]
            command += ["--app-dir", str(BENCH_DIR / "apps"), "--port", str(port)]
            command += ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]
            env = {**os.environ, **enquiry_env(url, dev.bootstrap_servers, keys)}
            env["PROFILE_OUTPUT"] = str(output)
            process = await asyncio.to_thread(subprocess.Popen, command, env=env)
            try:
                wait_for_port("127.0.0.1", port, timeout=60)
                await asyncio.sleep(2)
                base = f"http://127.0.0.1:{port}"
                if which == "intake":
                    body = WORK_DIR / "enquiry-body.json"
                    body.write_bytes(intake._body())
                    print(
                        await intake._load(f"{base}/v1/enquiries", body, token, rate=0, duration=10)
                    )
                else:
                    async with httpx.AsyncClient(
                        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=300
                    ) as client:
                        for b in range(5):
                            answer = await client.post(
                                "/v1/standby/call-records",
                                content=orjson.dumps(standby._records(f"profile-{b}", 1000)),
                                headers={"Content-Type": "application/json"},
                            )
                            answer.raise_for_status()
                    await asyncio.sleep(2)  # the relay publishes what the batches wrote
            finally:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=60)
    render = [sys.executable, "-m", "pyinstrument", "--load", str(output), "-r", "text"]
    # Library frames (SQLAlchemy, pydantic, asyncpg) are where the time goes; show them.
    render += ["--show-all"] if show_all else ["--show", "*/sqlalchemy/*", "--show", "*/pydantic*"]
    render += ["-p", "processor_options.filter_threshold=0.005", "--no-color"]
    await asyncio.to_thread(subprocess.run, render, check=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("load", choices=["intake", "standby"])
    parser.add_argument("--show-all", action="store_true", help="every frame, not only ours")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.load, arguments.show_all))
