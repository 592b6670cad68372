"""The intake benchmark's baseline: the least FastAPI app taking a POST with a pydantic body."""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from fastapi import FastAPI
from pydantic import BaseModel


class Body(BaseModel):
    """Roughly an enquiry's shape, validated by pydantic and nothing else."""

    channel: str
    service_area: str
    received_at: datetime
    description: str
    customer: dict[str, str] | None = None


def create_app() -> FastAPI:
    """The app, for `uvicorn minimal_app:create_app --factory`."""
    app = FastAPI()

    @app.post("/v1/enquiries", status_code=201)
    async def create(body: Body) -> dict[str, str]:
        return {"id": str(uuid4()), "status": "received", "channel": body.channel}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
