"""Call records as the telephony platform posts them, and what the API answers."""

from __future__ import annotations

from typing import Annotated, Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from contact_common.events import ServiceArea, Slug, StaffId
from contact_common.instants import Instant
from enquiry_api.calls.domain import call_times_problem

ExternalId = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/\-]{0,127}$")
]
"""An id issued by another system (telephony platform, kiosk, contractor)."""


class CallRecordIn(BaseModel):
    """One call, as the telephony platform records it."""

    model_config = ConfigDict(extra="forbid")

    call_id: ExternalId = Field(
        description="The telephony platform's own id of the call: sending it again is harmless."
    )
    offered_at: Instant = Field(description="When the call was offered to the queue.")
    answered_at: Instant | None = Field(
        default=None, description="When an agent answered; give this or abandoned_at."
    )
    abandoned_at: Instant | None = Field(
        default=None, description="When the caller hung up unanswered; or answered_at."
    )
    ended_at: Instant | None = Field(default=None, description="When the call ended.")
    queue: Slug | None = Field(default=None, description="The queue it was offered to.")
    agent_id: StaffId | None = Field(default=None, description="The answering agent's staff id.")
    service_area: ServiceArea | None = Field(
        default=None, description="The service area the call was about, if known."
    )
    enquiry_id: UUID | None = Field(
        default=None, description="The enquiry raised from the call, if one was."
    )

    @model_validator(mode="after")
    def _times_agree(self) -> Self:
        problem = call_times_problem(
            offered_at=self.offered_at,
            answered_at=self.answered_at,
            abandoned_at=self.abandoned_at,
            ended_at=self.ended_at,
        )
        if problem:
            raise ValueError(problem[1])
        return self


class CallResult(BaseModel):
    """What happened to one posted call record."""

    call_id: str = Field(description="The telephony platform's id, as sent.")
    id: UUID = Field(description="The platform's id of the call (the events' subject).")
    status: Literal["created", "duplicate"] = Field(
        description="created, or duplicate if this call_id was recorded before (nothing changed)."
    )


class CallBatchResult(BaseModel):
    """The outcome of a POST /v1/calls, record by record."""

    created: int = Field(description="How many calls were new.")
    duplicate: int = Field(description="How many had been recorded already.")
    results: list[CallResult]
