"""enquiry-api as bench/profile.py and bench/cpu_per_request.py serve it.

In a folder of its own because uvicorn puts its --app-dir on sys.path, where bench/profile.py
would stand in for the standard library's `profile`, which cProfile imports.

`create_app`: pyinstrument samples it from when the app is built to when the process exits
(profiling the whole `uvicorn` run would bury the load under the imports).
`create_app_without_relay`: no outbox relay in the process, to tell its CPU from the requests'.
`create_app_cpu_profiled`: no relay, and cProfile on process time (not wall time, which a
busy machine fills with waiting) over requests 201 to 1,200, written to $PROFILE_OUTPUT.
"""

from __future__ import annotations

import atexit
import cProfile
import os
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from pyinstrument import Profiler

from enquiry_api.main import create_app as create_enquiry_app

CPU_PROFILED_REQUESTS = range(201, 1201)


def create_app() -> FastAPI:
    """enquiry-api, profiled into $PROFILE_OUTPUT (a .pyisession file) when the process exits."""
    app = create_enquiry_app()
    # Sample every frame the event loop runs, not only the coroutine that started the profiler.
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()

    def save() -> None:
        profiler.stop().save(os.environ["PROFILE_OUTPUT"])

    atexit.register(save)
    return app


def create_app_without_relay() -> FastAPI:
    """enquiry-api without its outbox relay (the rows stay unpublished)."""
    app = create_enquiry_app()
    app.state.runtime.workers.clear()
    return app


def create_app_cpu_profiled() -> FastAPI:
    """enquiry-api without its relay, its CPU over a window of requests profiled by cProfile."""
    app = create_app_without_relay()
    profile = cProfile.Profile(time.process_time)
    seen = 0

    @app.middleware("http")
    async def window(request: Request, call_next: Callable[[Request], Awaitable[Response]]):
        nonlocal seen
        seen += 1
        if seen == CPU_PROFILED_REQUESTS.start:
            profile.enable()
        response = await call_next(request)
        if seen == CPU_PROFILED_REQUESTS.stop - 1:
            profile.disable()
            profile.dump_stats(os.environ["PROFILE_OUTPUT"])
        return response

    return app
