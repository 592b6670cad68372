"""Settings of enquiry-api: environment variables prefixed ENQUIRY_, or a .env file."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from contact_common.settings import IntakeSettings


class Settings(IntakeSettings):
    """What enquiry-api can be told."""

    model_config = SettingsConfigDict(env_prefix="ENQUIRY_")

    service_name: ClassVar[str] = "enquiry-api"
    database_schema: ClassVar[str] = "enquiry"

    port: int = 8001
    # A standby batch of 5,000 JSON records is about 1.5 MB: more than the platform's 1 MiB default.
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024, description="Larger request bodies get 413 (4 MiB here)."
    )
    reference_prefix: str = Field(
        default="ENQ",
        pattern=r"^[A-Z]{2,8}$",
        description="The start of every enquiry reference, e.g. ENQ in ENQ-2026-000123.",
    )
    max_call_batch: int = Field(
        default=1000, ge=1, description="The most call records one POST /v1/calls may carry."
    )
    max_standby_batch: int = Field(
        default=5000, ge=1, description="The most records one standby batch may carry."
    )
    open311_jurisdiction_id: str = Field(
        default="council.example",
        description="The jurisdiction Open311 discovery names (any jurisdiction_id is accepted).",
    )
    open311_changeset: datetime = Field(
        default=datetime(2026, 11, 25, tzinfo=UTC),
        description="When the Open311 service list last changed (shown in discovery).",
    )
    open311_contact: str = Field(
        default="Customer services, the council",
        description="Who to contact about the Open311 endpoint (shown in discovery).",
    )


@lru_cache
def get_settings() -> Settings:
    """The settings, read once per process."""
    return Settings()
