"""Settings of sla-monitor: environment variables prefixed SLA_, or a .env file."""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from contact_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """What sla-monitor can be told."""

    model_config = SettingsConfigDict(env_prefix="SLA_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "sla-monitor"
    database_schema: ClassVar[str] = "sla"

    port: int = 8003
    consumer_group: str = Field(
        default="sla-monitor",
        description="The Kafka consumer group; instances in one group share the partitions.",
    )
    consumer_batch_size: int = Field(default=1000, ge=1, le=10_000)
    timer_horizon_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Deadlines this close are held in memory; later ones stay in the database.",
    )
    timer_refresh_seconds: float = Field(
        default=5.0, gt=0, description="How often the in-memory horizon is reloaded."
    )
    timer_batch_size: int = Field(
        default=5000, ge=1, description="Most clocks loaded into memory per partition reload."
    )
    clock_offset_seconds: float = Field(
        default=0.0,
        description="Shifts the service's clock (tests and demonstrations only; 0 in production).",
    )


@lru_cache
def get_settings() -> Settings:
    """The settings, read once per process."""
    return Settings()
