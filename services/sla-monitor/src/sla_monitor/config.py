"""Settings of sla-monitor: environment variables prefixed SLA_, or a .env file."""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from contact_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """What sla-monitor can be told."""

    model_config = SettingsConfigDict(env_prefix="SLA_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "sla-monitor"
    database_schema: ClassVar[str] = "sla"

    port: int = 8003


@lru_cache
def get_settings() -> Settings:
    """The settings, read once per process."""
    return Settings()
