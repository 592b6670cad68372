"""Settings of metrics-api: environment variables prefixed METRICS_, or a .env file."""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from contact_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """What metrics-api can be told."""

    model_config = SettingsConfigDict(env_prefix="METRICS_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "metrics-api"
    database_schema: ClassVar[str] = "metrics"

    port: int = 8004


@lru_cache
def get_settings() -> Settings:
    """The settings, read once per process."""
    return Settings()
