"""Settings of complaints-api: environment variables prefixed COMPLAINTS_, or a .env file."""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from contact_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """What complaints-api can be told."""

    model_config = SettingsConfigDict(env_prefix="COMPLAINTS_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "complaints-api"
    database_schema: ClassVar[str] = "complaints"

    port: int = 8002
    escalation_window_days: int = Field(
        default=20,
        ge=1,
        description="Working days after the stage-1 response within which the customer may "
        "ask for stage 2 (counted like any deadline: to closing time on the last day).",
    )
    clock_skew_seconds: int = Field(
        default=300, ge=0, description="How far in the future an `at` or `received_at` may be."
    )
    idempotency_retention_hours: int = Field(
        default=48,
        ge=24,
        description="How long an Idempotency-Key and its answer are kept (at least 24 hours).",
    )
    idempotency_lease_seconds: int = Field(
        default=60,
        ge=5,
        description="After this long, a request holding an Idempotency-Key that never answered "
        "(its process died) gives the key up to a retry.",
    )


@lru_cache
def get_settings() -> Settings:
    """The settings, read once per process."""
    return Settings()
