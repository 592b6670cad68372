"""Profiles enquiry-api under the intake or standby load with cProfile (py-spy is not installed).

    .tools/bin/uv run python bench/profile.py intake|standby [--top 30]

Serves the app under `python -m cProfile -m uvicorn ...` (uvloop, httptools), drives it, stops it
with SIGINT so cProfile writes var/bench/<name>.prof, and prints the functions by own time. Under
uvloop the C side (uvloop, httptools, asyncpg's protocol) is charged to the event loop's `run`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pstats
import signal
import subprocess
import sys

import httpx
import intake
import orjson
import standby
from common import WORK_DIR, api_key, broker, enquiry_env, free_port, scratch_database

from contact_common.devbroker import wait_for_port


async def main(which: str, top: int) -> None:
    keys, token = api_key(["enquiries:write", "standby:write"])
    output = WORK_DIR / f"{which}.prof"
    with broker() as dev:
        async with scratch_database("profile", service="enquiry-api") as url:
            port = free_port()
            command = [sys.executable, "-m", "cProfile", "-o", str(output), "-m", "uvicorn"]
            command += ["enquiry_api.main:create_app", "--factory", "--port", str(port)]
            command += ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]
            env = {**os.environ, **enquiry_env(url, dev.bootstrap_servers, keys)}
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
    pstats.Stats(str(output)).sort_stats("tottime").print_stats(top)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("load", choices=["intake", "standby"])
    parser.add_argument("--top", type=int, default=30)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.load, arguments.top))
