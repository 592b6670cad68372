"""Satisfaction feedback on a contact; subject = the feedback id."""

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from contact_common.events.common import Channel, ServiceArea, UtcDatetime
from contact_common.events.envelope import CloudEvent, EventData


class FeedbackSubmittedData(EventData):
    """A resident rated a contact from 1 to 5."""

    subject_field: ClassVar[str] = "feedback_id"
    time_field: ClassVar[str] = "submitted_at"

    feedback_id: UUID = Field(description="The feedback's id.")
    score: int = Field(ge=1, le=5, description="Satisfaction from 1 (very poor) to 5 (very good).")
    channel: Channel = Field(description="The channel of the contact being rated.")
    service_area: ServiceArea = Field(description="The service area of the contact being rated.")
    submitted_at: UtcDatetime = Field(description="When the feedback was given.")
    enquiry_id: UUID | None = Field(default=None, description="The enquiry rated, if any.")


class FeedbackSubmitted(CloudEvent):
    """feedback.submitted: a resident rated a contact from 1 to 5."""

    type: Literal["feedback.submitted"] = "feedback.submitted"
    data: FeedbackSubmittedData
