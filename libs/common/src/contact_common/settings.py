"""Settings shared by every service: one `BaseSettings` subclass per service, each with its prefix.

A service's own variables carry its prefix (`ENQUIRY_DATABASE_URL`); the few that point the
whole system at its infrastructure or apply to every service may also be given once, unprefixed
(`DATABASE_URL`, `KAFKA_BOOTSTRAP_SERVERS`, `API_KEYS_FILE`, `RATE_LIMIT`, OpenTelemetry's
standard `OTEL_EXPORTER_OTLP_ENDPOINT`), so a deployment sets them in one place. The environment
wins over a `.env` file; within each, the prefixed variable wins over the shared one.

The council's commitments and calendar (`POLICY`, `OFFICE_OPENS`, `OFFICE_CLOSES`,
`OFFICE_TIMEZONE`, `HOLIDAY_COUNTRY`, `HOLIDAY_SUBDIVISION`, `CLOSURE_DAYS`) are given once,
unprefixed only: one council keeps one calendar, so a prefixed copy (`SLA_POLICY`) is refused
at start-up rather than quietly giving one service a calendar of its own.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date, time
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from dotenv import dotenv_values
from pydantic import Field, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from contact_common.calendar import OfficeHours, WorkingCalendar
from contact_common.commitments import Policy, load_policy
from contact_common.ratelimit import parse_limit

SHARED_VARIABLES = (
    "database_url",
    "kafka_bootstrap_servers",
    "kafka_fetch_max_wait_ms",
    "kafka_consumer_linger_ms",
    "api_keys_file",
    "topic_partitions",
    "rate_limit",
    "rate_limit_storage_uri",
    "otel_exporter_otlp_endpoint",
    "tracing_enabled",
    "tracing_sample_ratio",
)

# One council, one set of commitments and one calendar: read unprefixed only.
COUNCIL_VARIABLES = (
    "policy",
    "holiday_country",
    "holiday_subdivision",
    "office_opens",
    "office_closes",
    "office_timezone",
    "closure_days",
)

DEFAULT_SERVICE_AREAS = (
    "waste",
    "council_tax",
    "benefits",
    "planning",
    "housing",
    "parking",
    "environmental_health",
    "licensing",
    "leisure",
    "general",
)


class _PrefixedEnvSource(EnvSettingsSource):
    """The service's own variables, with its prefix: never the council's."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name in COUNCIL_VARIABLES:
            return None, field_name, False
        return super().get_field_value(field, field_name)


class _PrefixedDotEnvSource(DotEnvSettingsSource):
    """The service's own lines of the `.env` file, with its prefix: never the council's."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name in COUNCIL_VARIABLES:
            return None, field_name, False
        return super().get_field_value(field, field_name)


class _SharedEnvSource(EnvSettingsSource):
    """Reads only the infrastructure and council variables, without the service's prefix."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls, env_prefix="")

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name not in SHARED_VARIABLES and field_name not in COUNCIL_VARIABLES:
            return None, field_name, False
        return super().get_field_value(field, field_name)


EnvFile = Path | str | Sequence[Path | str] | None


class _SharedDotEnvSource(DotEnvSettingsSource):
    """Reads only the infrastructure and council variables from `.env`, without the prefix."""

    def __init__(self, settings_cls: type[BaseSettings], env_file: EnvFile) -> None:
        super().__init__(settings_cls, env_file=env_file, env_prefix="")

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name not in SHARED_VARIABLES and field_name not in COUNCIL_VARIABLES:
            return None, field_name, False
        return super().get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        # The shared fields only: the file's other lines are the prefixed source's to read.
        return EnvSettingsSource.__call__(self)


def _refuse_prefixed_council_variables(prefix: str, env_file: EnvFile) -> None:
    """Stops start-up on a prefixed copy of the council's policy or calendar (`SLA_POLICY`)."""
    if not prefix:
        return
    given = {name.upper() for name in os.environ}
    files = [env_file] if isinstance(env_file, str | Path) else list(env_file or [])
    for path in files:
        if Path(path).is_file():
            given |= {name.upper() for name in dotenv_values(path)}
    prefixed = sorted(
        f"{prefix.upper()}{name.upper()}"
        for name in COUNCIL_VARIABLES
        if f"{prefix.upper()}{name.upper()}" in given
    )
    if prefixed:
        raise SettingsError(
            f"{', '.join(prefixed)}: the council's policy and calendar are set once for every "
            "service, without a prefix (e.g. POLICY, OFFICE_CLOSES, CLOSURE_DAYS)"
        )


class ServiceSettings(BaseSettings):
    """What every service needs: its database, the broker, the calendar, keys and logging."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_nested_delimiter="__")

    service_name: ClassVar[str] = "service"
    database_schema: ClassVar[str] = "public"

    database_url: str = Field(
        default="",
        description="SQLAlchemy async URL; empty means SQLite under var/ (the embedded default).",
    )
    database_echo: bool = False
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_client_id: str = ""
    kafka_consumer_linger_ms: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="After a batch smaller than the consumer's maximum, wait this long for "
        "more before handling it: fewer, larger transactions for this much latency.",
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=50,
        ge=1,
        le=60_000,
        description="How long the broker may hold a consumer's fetch open when it has nothing "
        "to give. Kafka answers as soon as records arrive, whatever this is; the bundled broker "
        "(tansu) holds every fetch this long on a quiet topic, hence 50 ms. On tansu's S3 "
        "store a read of a backlog takes longer than 50 ms and is abandoned each time: the "
        "fault soak sets 500 (docs/decisions.md).",
    )
    topic_partitions: int = Field(default=6, ge=1, description="Partitions when creating topics.")
    api_keys_file: Path = Path("var/api-keys.json")
    # A guard against a runaway client, not a quota: far above what the demo loader, the
    # benchmarks or a council's integrations send, so only a loop gone wrong meets it.
    rate_limit: str = Field(
        default="1000/second",
        description="Requests each API key may make to this service in a sliding window, e.g. "
        "'300/second' or '20 per 2 seconds'; empty or 0 for none. A key's own limit (contactctl "
        "keys issue --rate-limit) replaces it.",
    )
    rate_limit_storage_uri: str = Field(
        default="memory://",
        description="Where the windows are counted: memory:// (each process its own) or a "
        "shared store such as redis://host:6379 so replicas share one limit.",
    )
    # Tracing (contact_common.tracing): off unless an endpoint is set or it is enabled.
    otel_exporter_otlp_endpoint: str = Field(
        default="",
        description="The OTLP/HTTP endpoint traces are exported to (a collector's base URL, "
        "e.g. http://otel-collector:4318; spans go to <endpoint>/v1/traces). Empty: none.",
    )
    tracing_enabled: bool = Field(
        default=False,
        description="Trace even without an endpoint (trace ids in the logs, a test's exporter); "
        "an endpoint turns tracing on by itself.",
    )
    tracing_sample_ratio: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="The share of new traces (requests, untraced messages) recorded; a trace "
        "begun elsewhere follows its parent's decision.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_json: bool = True
    # The council's commitments and calendar (DESIGN.md, "The commitments"), unprefixed only.
    policy: str = Field(
        default="default",
        description="The commitments in force, for every service: a shipped policy's name "
        "(default, complaint-handling-code-2024) or the path of a YAML policy file.",
    )
    holiday_country: str = "GB"
    holiday_subdivision: str | None = Field(
        default="ENG", description="Bank holidays of ENG, WLS, SCT or NIR."
    )
    office_opens: time = time(9, 0)
    office_closes: time = time(17, 0)
    office_timezone: str = "Europe/London"
    closure_days: list[date] = Field(
        default_factory=list, description='Council closure days, JSON: ["2026-12-24"].'
    )
    service_areas: list[str] = Field(default_factory=lambda: list(DEFAULT_SERVICE_AREAS))
    max_body_bytes: int = Field(default=1_048_576, description="Larger request bodies get 413.")

    @field_validator("rate_limit")
    @classmethod
    def _a_rate_limit(cls, value: str) -> str:
        parse_limit(value)  # a typo fails at start-up, not as an unlimited service
        return value.strip()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        prefix = settings_cls.model_config.get("env_prefix", "")
        # The file the dotenv source reads: the class's, or `_env_file` when given one (None: none).
        env_file = (
            dotenv_settings.env_file if isinstance(dotenv_settings, DotEnvSettingsSource) else None
        )
        _refuse_prefixed_council_variables(prefix, env_file)
        return (
            init_settings,
            _PrefixedEnvSource(settings_cls, env_prefix=prefix),
            _SharedEnvSource(settings_cls),
            _PrefixedDotEnvSource(settings_cls, env_file=env_file, env_prefix=prefix),
            _SharedDotEnvSource(settings_cls, env_file),
            file_secret_settings,
        )

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or this service's SQLite file under var/."""
        if self.database_url:
            return self.database_url
        Path("var").mkdir(exist_ok=True)
        return f"sqlite+aiosqlite:///var/{self.service_name}.db"

    @property
    def effective_client_id(self) -> str:
        """The Kafka client id: configured, or the service's name."""
        return self.kafka_client_id or self.service_name

    @cached_property
    def commitments(self) -> Policy:
        """The policy in force (the `POLICY` file, loaded and checked once)."""
        return load_policy(self.policy)

    @cached_property
    def calendar(self) -> WorkingCalendar:
        """The working-day calendar this council keeps."""
        return WorkingCalendar(
            country=self.holiday_country,
            subdivision=self.holiday_subdivision,
            closure_days=self.closure_days,
            office_hours=OfficeHours(opens=self.office_opens, closes=self.office_closes),
            timezone=self.office_timezone,
        )

    def unknown_service_area(
        self,
        service_area: str | None,
        *,
        wording: str = "'{service_area}' is not a service area; use one of {known}",
    ) -> str | None:
        """Why `service_area` is not one of this council's service areas, in the service's
        `wording` ({service_area}, {known}: the areas, comma-separated); None if it is one (or
        none is given). The one check of a service area a request names."""
        if service_area is None or service_area in self.service_areas:
            return None
        return wording.format(service_area=service_area, known=", ".join(self.service_areas))


class IntakeSettings(ServiceSettings):
    """What a service recording clients' contacts adds: their clock skew, Idempotency-Key."""

    clock_skew_seconds: int = Field(
        default=300,
        ge=0,
        description="How far in the future a client's `at` or `received_at` may be (clock skew).",
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
