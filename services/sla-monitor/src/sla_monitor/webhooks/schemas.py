"""What the webhook endpoints take and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from contact_common.events import ServiceArea

EventType = Literal["sla.at_risk", "sla.breached", "sla.met", "sla.stopped", "sla.withdrawn"]


class SubscriptionIn(BaseModel):
    """A new subscription."""

    url: str = Field(
        min_length=1,
        max_length=2000,
        description="Where to POST: an http(s) URL. Private and loopback addresses are refused "
        "unless SLA_WEBHOOK_ALLOW_PRIVATE_ADDRESSES is set.",
        examples=["https://alerts.example.gov.uk/hooks/sla"],
    )
    event_types: list[EventType] = Field(
        min_length=1, description="The sla.* events wanted.", examples=[["sla.breached"]]
    )
    service_areas: list[ServiceArea] = Field(
        default_factory=list,
        max_length=50,
        description="Only clocks of these service areas; empty for all (and clocks with none).",
    )
    description: str | None = Field(default=None, max_length=200, description="What it is for.")
    secret: str | None = Field(
        default=None,
        max_length=200,
        description="A Standard Webhooks secret (`whsec_` and base64 of 24-64 bytes); if "
        "absent one is generated. Either way it is shown in this response only.",
    )


class SubscriptionOut(BaseModel):
    """A subscription; its secret is never shown again."""

    id: UUID
    url: str
    event_types: list[str]
    service_areas: list[str]
    description: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> SubscriptionOut:
        """The API view of a subscription row."""
        return cls.model_validate(row, from_attributes=True)


class SubscriptionCreated(SubscriptionOut):
    """A subscription just made, with its signing secret (shown this once)."""

    secret: str = Field(description="The whsec_ secret to verify signatures with; keep it safe.")


class AttemptOut(BaseModel):
    """One attempt to deliver."""

    attempted_at: datetime
    duration_ms: int = Field(description="From sending to the answer, or to giving up waiting.")
    status_code: int | None = Field(description="The receiver's HTTP status, if it answered.")
    outcome: Literal["delivered", "failed", "timeout", "error", "refused"] = Field(
        description="delivered (2xx), failed (another status), timeout, error (no answer) or "
        "refused (the address is not allowed)."
    )
    error: str | None = Field(description="What went wrong, if anything.")


class DeliveryOut(BaseModel):
    """One event's delivery to the subscription, and its attempts."""

    id: UUID = Field(description="The webhook-id header: the same on every attempt.")
    event_id: UUID = Field(description="The sla.* event's id, as on sla.events.")
    event_type: str
    status: Literal["pending", "delivered", "failed"] = Field(
        description="pending (being tried), delivered (a 2xx), or failed (retries ran out)."
    )
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="When it is tried next, while pending.")
    last_attempt_at: datetime | None
    last_status_code: int | None
    delivered_at: datetime | None
    failed_at: datetime | None
    attempt_log: list[AttemptOut] = Field(description="Every attempt, first first.")


class DeliveryPage(BaseModel):
    """A subscription's deliveries, latest first."""

    items: list[DeliveryOut]
