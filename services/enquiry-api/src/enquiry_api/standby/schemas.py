"""The standby contractor's call records, and the record-by-record answer to a batch."""

from __future__ import annotations

from typing import Annotated, Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from contact_common.errors import FieldError
from contact_common.events import ServiceArea
from contact_common.instants import Instant
from contact_common.text import SingleLine, Storable
from enquiry_api.calls.schemas import ExternalId
from enquiry_api.common import Phone


class StandbyRecordIn(BaseModel):
    """One out-of-hours call, as the contractor records it (a JSON object or a CSV row)."""

    # A contractor's system may send more than we need; what we do not know is ignored.
    model_config = ConfigDict(extra="ignore")

    record_id: ExternalId = Field(
        description="The contractor's own id of the record: sending it again creates nothing."
    )
    call_started_at: Instant = Field(description="When the call came in (with offset).")
    answered_at: Instant = Field(description="When the contractor answered it.")
    ended_at: Instant = Field(description="When the call ended.")
    category: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), SingleLine
    ] = Field(description="The contractor's category of the call, e.g. housing_repair.")
    service_area: ServiceArea = Field(
        description="The council service area it concerns; a follow-up is assigned to it."
    )
    action_taken: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000), Storable
    ] = Field(description="What the contractor did.")
    requires_follow_up: bool = Field(
        description="True if a department must follow it up on the next working day: opens an "
        "enquiry (channel standby) assigned to the service area. In CSV: true/false, yes/no, 1/0."
    )
    caller_phone: Phone | None = Field(
        default=None, description="The caller's number, for a call back (personal data)."
    )
    notes: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000), Storable] | None
    ) = Field(default=None, description="The contractor's notes (may be personal data).")

    @model_validator(mode="after")
    def _times_in_order(self) -> Self:
        if self.answered_at < self.call_started_at:
            raise ValueError("answered_at is before call_started_at")
        if self.ended_at < self.answered_at:
            raise ValueError("ended_at is before answered_at")
        return self


class StandbyRecordResult(BaseModel):
    """What happened to one record of the batch."""

    index: int = Field(description="The record's position in the batch, from 0.")
    line: int | None = Field(default=None, description="Its line in the CSV file, for CSV.")
    record_id: str | None = Field(description="The contractor's record_id, if it gave one.")
    status: Literal["created", "duplicate", "rejected"] = Field(
        description="created; duplicate (recorded before, nothing changed); or rejected (not "
        "stored: see errors; send it again corrected)."
    )
    errors: list[FieldError] | None = Field(
        default=None, description="Why a rejected record was refused, field by field."
    )
    enquiry_id: UUID | None = Field(
        default=None, description="The enquiry opened for its follow-up, if it needed one."
    )


class StandbyBatchResult(BaseModel):
    """The answer to a batch: every record, in the order sent."""

    received: int = Field(description="How many records the batch had.")
    created: int
    duplicate: int
    rejected: int
    results: list[StandbyRecordResult]


STANDBY_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "description": "A JSON list of records, or a CSV file whose first row names the fields.",
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": StandbyRecordIn.model_json_schema()}
            },
            "text/csv": {
                "schema": {"type": "string"},
                "example": (
                    "record_id,call_started_at,answered_at,ended_at,category,service_area,"
                    "action_taken,requires_follow_up,caller_phone,notes\n"
                    "SB-1001,2026-03-07T22:15:00+00:00,2026-03-07T22:15:20+00:00,"
                    "2026-03-07T22:21:00+00:00,housing_repair,housing,Plumber sent,true,,\n"
                ),
            },
        },
    }
}
