"""Settings of enquiry-api: environment variables prefixed ENQUIRY_, or a .env file."""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from contact_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """What enquiry-api can be told."""

    model_config = SettingsConfigDict(env_prefix="ENQUIRY_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "enquiry-api"
    database_schema: ClassVar[str] = "enquiry"

    port: int = 8001


@lru_cache
def get_settings() -> Settings:
    """The settings, read once per process."""
    return Settings()
