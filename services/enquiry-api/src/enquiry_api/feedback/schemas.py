"""Feedback as a survey tool or web page posts it, and what the API answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contact_common.events import Channel, ServiceArea
from contact_common.instants import Instant
from enquiry_api.calls.schemas import ExternalId


class FeedbackIn(BaseModel):
    """A resident's rating of a contact, from 1 (very poor) to 5 (very good)."""

    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=1, le=5, description="Satisfaction from 1 (very poor) to 5 (very good).")
    enquiry_id: UUID | None = Field(
        default=None,
        description="The enquiry rated; its channel and service area are used unless given.",
    )
    channel: Channel | None = Field(
        default=None, description="The channel of the contact rated; required without enquiry_id."
    )
    service_area: ServiceArea | None = Field(
        default=None, description="Its service area; required without enquiry_id."
    )
    submitted_at: Instant | None = Field(
        default=None,
        description="When the resident gave it (ISO 8601 with offset); now if left out.",
    )
    response_id: ExternalId | None = Field(
        default=None,
        description="The survey tool's own id of this response: posting it again is harmless.",
    )


class FeedbackOut(BaseModel):
    """Recorded feedback."""

    id: UUID = Field(description="The feedback's id (the event's subject).")
    status: Literal["created", "duplicate"] = Field(
        description="created, or duplicate if this response_id was recorded before."
    )
    score: int
    channel: Channel
    service_area: str
    enquiry_id: UUID | None
    submitted_at: datetime
    response_id: str | None
