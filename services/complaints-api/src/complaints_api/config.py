"""Settings of complaints-api: environment variables prefixed COMPLAINTS_, or a .env file."""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from contact_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """What complaints-api can be told."""

    model_config = SettingsConfigDict(env_prefix="COMPLAINTS_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "complaints-api"
    database_schema: ClassVar[str] = "complaints"

    port: int = 8002


@lru_cache
def get_settings() -> Settings:
    """The settings, read once per process."""
    return Settings()
