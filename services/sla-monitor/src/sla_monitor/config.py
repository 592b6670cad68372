"""Settings of sla-monitor: environment variables prefixed SLA_, or a .env file."""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from contact_common.settings import ServiceSettings
from sla_monitor.alerts.domain import ContactLinks


class Settings(ServiceSettings):
    """What sla-monitor can be told."""

    model_config = SettingsConfigDict(env_prefix="SLA_")

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
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="How long one webhook attempt may take."
    )
    webhook_max_age_seconds: float = Field(
        default=86_400.0,
        gt=0,
        description="A webhook delivery is retried this long (24 h), then marked failed.",
    )
    webhook_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often the delivery worker looks for due deliveries."
    )
    webhook_backoff_base_seconds: float = Field(
        default=5.0, gt=0, description="The first retry's delay; each next one doubles."
    )
    webhook_backoff_cap_seconds: float = Field(
        default=3600.0, gt=0, description="The longest delay between two attempts."
    )
    webhook_batch_size: int = Field(
        default=50, ge=1, le=1000, description="Most deliveries claimed by one pass."
    )
    webhook_concurrency: int = Field(
        default=10, ge=1, le=200, description="Most webhook requests in flight at once."
    )
    webhook_allow_private_addresses: bool = Field(
        default=False,
        description="Lets webhooks go to loopback and private addresses (tests, a private "
        "network); off, only public addresses are called (the SSRF guard).",
    )

    # Alert mails (docs/decisions.md, "Alert mails"): off while no SMTP host is configured.
    smtp_host: str = Field(
        default="", description="The SMTP server of the alert mails; empty turns them off."
    )
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str = Field(default="", description="Empty: no SMTP login.")
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = Field(default=False, description="Upgrade the connection (STARTTLS).")
    smtp_from: str = Field(
        default="sla-monitor@localhost", description="The From address of the alert mails."
    )
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    alert_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        le=4,
        description="How often the mailer looks for mails and digests due (a breach is mailed "
        "within this plus the SMTP exchange, well inside 5 s).",
    )
    alert_max_attempts: int = Field(
        default=10, ge=1, description="Tries of a mail before it is given up on."
    )
    alert_digest_max_rows: int = Field(
        default=100, ge=1, description="Clocks listed per digest section; the count is of all."
    )
    contact_link_template: str = Field(
        default="",
        description="The URL a mail links a contact to, any type: {reference}, {id} and "
        "{type} are filled in (e.g. https://crm.example/contacts/{reference}); empty: no link.",
    )
    contact_link_templates: dict[str, str] = Field(
        default_factory=dict,
        description="Per contact type, overriding contact_link_template (JSON, e.g. "
        '{"enquiry": "https://enquiries.example/v1/enquiries/{id}"}).',
    )

    @model_validator(mode="after")
    def _links_are_valid(self) -> Settings:
        _ = self.contact_links  # a template with an unknown {name} stops the start-up
        return self

    @property
    def contact_links(self) -> ContactLinks:
        """The links of contacts in the alert mails (none when no template is set)."""
        return ContactLinks({"*": self.contact_link_template, **self.contact_link_templates})

    @property
    def alerts_enabled(self) -> bool:
        """True if alert mails can be sent (an SMTP host is configured)."""
        return bool(self.smtp_host)


@lru_cache
def get_settings() -> Settings:
    """The settings, read once per process."""
    return Settings()
