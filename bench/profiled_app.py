"""enquiry-api with pyinstrument sampling it from when the app is built to when the process exits.

For `bench/profile.py`: profiling the whole `uvicorn` run would bury the load under the imports.
"""

from __future__ import annotations

import atexit
import os

from fastapi import FastAPI
from pyinstrument import Profiler

from enquiry_api.main import create_app as create_enquiry_app


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
