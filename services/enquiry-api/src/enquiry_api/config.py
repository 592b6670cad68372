"""Settings of enquiry-api: environment variables prefixed ENQUIRY_, or a .env file."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from contact_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """What enquiry-api can be told."""

    model_config = SettingsConfigDict(env_prefix="ENQUIRY_", env_file=".env", extra="ignore")

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
    clock_skew_seconds: int = Field(
        default=300,
        ge=0,
        description="How far in the future a client's `at` or `received_at` may be (clock skew).",
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
