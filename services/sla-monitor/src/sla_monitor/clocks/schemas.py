"""What the clock and breach endpoints answer."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from contact_common.events import Channel, ComplaintStage, ContactType
from sla_monitor.clocks.domain import SlaClock, Status


class ClockOut(BaseModel):
    """One clock: a commitment for one contact."""

    clock_id: UUID = Field(description="The clock's id, as in its sla.* events.")
    commitment: str = Field(description="The commitment's id, e.g. email-acknowledge.")
    subject: UUID = Field(description="The contact's id (enquiry, call, visit or complaint).")
    sequence: int = Field(
        description="0 for a contact's first clock; a reopened enquiry's reopen count; "
        "a complaint's stage (1, 2)."
    )
    contact_type: ContactType
    channel: Channel
    service_area: str | None = Field(description="The contact's service area, where known.")
    stage: ComplaintStage | None = Field(description="The complaint stage, for complaints.")
    started_at: datetime = Field(description="When the clock started (UTC).")
    due_at: datetime = Field(description="The deadline (UTC); an extension replaces it.")
    at_risk_at: datetime = Field(description="When the at-risk share of the window is reached.")
    status: Status = Field(
        description="pending (running), met, breached, excluded (a short abandon or a "
        "contact withdrawn within the target), or cancelled (its contact was voided, or "
        "corrected so that the commitment no longer applies)."
    )
    stopped_at: datetime | None = Field(description="When the clock was stopped, if it was.")
    breached_at: datetime | None = Field(description="When it was breached: the deadline.")
    extended_at: datetime | None = Field(description="When the deadline was extended, if it was.")
    breach_withdrawn_at: datetime | None = Field(
        default=None,
        description="When a breach flagged with no stop was withdrawn (UTC): a stop, short "
        "abandon or extension recorded afterwards was made by the deadline.",
    )

    @classmethod
    def of(cls, item: SlaClock) -> ClockOut:
        """The API view of a clock."""
        fields = {name: getattr(item, name) for name in cls.model_fields if name != "clock_id"}
        return cls(clock_id=item.id, **fields)


class BreachPage(BaseModel):
    """A page of breaches, latest first."""

    items: list[ClockOut] = Field(description="Breached clocks, latest breach first.")
    next_cursor: str | None = Field(
        description="Pass as cursor for the next page; absent on the last page."
    )
