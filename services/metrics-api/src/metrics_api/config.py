"""Settings of metrics-api: environment variables prefixed METRICS_, or a .env file."""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from contact_common.settings import ServiceSettings

# The Customer Experience Strategy's cost per contact (seed 001): telephone £2.90, email £1.70,
# face-to-face £9.57, letter £4.33, social media £0.62, online self-service £0.13. Voicemail and
# the out-of-hours standby line are telephone contacts, so they cost what a call costs until a
# council configures its contractor's own rate.
DEFAULT_UNIT_COSTS: dict[str, float] = {
    "face_to_face": 9.57,
    "letter": 4.33,
    "phone": 2.90,
    "voicemail": 2.90,
    "standby": 2.90,
    "email": 1.70,
    "social_media": 0.62,
    "web_form": 0.13,
    "portal": 0.13,
    "chat": 0.13,
}

# Three Rivers Customer Experience Service Delivery Plan 2026-2029 (seed 000), KPI table and
# service volumes: a target per financial year; a year after the last one keeps the last target.
# The longest wait's target is the phone-wait-max commitment's, from the policy, every year.
# The plan's first call-wait target (1m30s, 2026-27) also holds for 2025-26, the year the plan was
# written in, so the shipped score card has no "None set" row. No seed sets a compliance target for
# the commitments (the SLA row): 95% is a starting point each council sets for itself.
DEFAULT_TARGETS: dict[str, dict[str, float]] = {
    "CX02": {"2025-26": 4.2, "2026-27": 4.2, "2027-28": 4.2, "2028-29": 4.2},
    "CX03": {"2025-26": 41.0, "2026-27": 42.0, "2027-28": 43.0, "2028-29": 44.0},
    "CX04": {"2025-26": 90.0, "2026-27": 90.0, "2027-28": 90.0, "2028-29": 90.0},
    "CX04-all": {"2025-26": 90.0, "2026-27": 90.0, "2027-28": 90.0, "2028-29": 90.0},
    "CX06-stage_1": {"2025-26": 35.0, "2026-27": 32.0, "2027-28": 30.0, "2028-29": 30.0},
    "CX06-stage_2": {"2025-26": 35.0, "2026-27": 32.0, "2027-28": 30.0, "2028-29": 30.0},
    "CX06-ombudsman": {"2025-26": 35.0, "2026-27": 32.0, "2027-28": 30.0, "2028-29": 30.0},
    "call-wait-mean": {"2025-26": 90.0, "2026-27": 90.0, "2027-28": 80.0},
    "SLA": {"2025-26": 95.0},
}


class Settings(ServiceSettings):
    """What metrics-api can be told."""

    model_config = SettingsConfigDict(env_prefix="METRICS_")

    service_name: ClassVar[str] = "metrics-api"
    database_schema: ClassVar[str] = "metrics"

    port: int = 8004
    consumer_group: str = Field(
        default="metrics-api",
        description="Kafka consumer group; every instance of one deployment shares it.",
    )
    online_channels: list[str] = Field(
        default_factory=lambda: ["web_form", "portal"],
        description="Channels whose feedback makes CX02 (online satisfaction).",
    )
    call_channels: list[str] = Field(
        default_factory=lambda: ["phone"],
        description="Enquiry channels that count as calls for CX04 and the call wait KPIs.",
    )
    unit_costs: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_UNIT_COSTS),
        description="Cost per contact by channel, in pounds.",
    )
    targets: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_TARGETS.items()},
        description='KPI targets by financial year, e.g. {"CX03": {"2026-27": 42}}.',
    )
    amber_band_percent: float = Field(
        default=5.0,
        ge=0,
        description="A KPI missing its target by no more than this share of the target is amber.",
    )
    dashboard_public: bool = Field(
        default=True,
        description="Serve the dashboard's data without an API key (aggregates only, no "
        "personal data); set false to require a metrics:read key in the page's URL fragment.",
    )
    dashboard_refresh_seconds: int = Field(default=30, ge=5, le=3600)
    sla_monitor_url: str | None = Field(
        default=None,
        description="sla-monitor's base URL (e.g. http://sla-monitor:8003): the worklist page "
        "reads its GET /v1/worklist server-side. Unset: the page says it is not configured.",
    )
    sla_monitor_api_key: SecretStr | None = Field(
        default=None, description="An sla:read key for reading sla-monitor's worklist."
    )
    sla_monitor_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    enquiry_api_url: str | None = Field(
        default=None,
        description="enquiry-api's base URL as staff reach it: worklist references link to "
        "{enquiry_api_url}/v1/enquiries/{id}. Unset: references are not links.",
    )
    complaints_api_url: str | None = Field(
        default=None,
        description="complaints-api's base URL as staff reach it: references link to "
        "{complaints_api_url}/v1/complaints/{id}.",
    )


@lru_cache
def get_settings() -> Settings:
    """The settings, read once per process."""
    return Settings()
