"""Settings of complaints-api: environment variables prefixed COMPLAINTS_, or a .env file."""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from contact_common.settings import IntakeSettings


class Settings(IntakeSettings):
    """What complaints-api can be told."""

    model_config = SettingsConfigDict(env_prefix="COMPLAINTS_")

    service_name: ClassVar[str] = "complaints-api"
    database_schema: ClassVar[str] = "complaints"

    port: int = 8002
    escalation_window_days: int = Field(
        default=20,
        ge=1,
        description="Working days after the stage-1 response within which the customer may "
        "ask for stage 2 (counted like any deadline: to closing time on the last day).",
    )


@lru_cache
def get_settings() -> Settings:
    """The settings, read once per process."""
    return Settings()
