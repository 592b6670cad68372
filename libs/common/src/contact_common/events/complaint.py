"""Events in a complaint's life, published by complaints-api; subject = the complaint id.

Every complaint event repeats the complaint's channel, service area and received_at, so a
consumer can start or attribute a clock from whichever event it sees first.
"""

from typing import ClassVar, Literal, Self
from uuid import UUID

from pydantic import Field, model_validator

from contact_common.events.amendment import (
    CorrectedData,
    VoidedData,
    correction_count,
    duplicate_of,
    voided_at,
)
from contact_common.events.common import (
    Channel,
    ComplaintOutcome,
    ComplaintStage,
    Reference,
    ServiceArea,
    UtcDatetime,
)
from contact_common.events.envelope import CloudEvent, EventData

_STAGE_ORDER = list(ComplaintStage)


class _ComplaintData(EventData):
    subject_field: ClassVar[str] = "complaint_id"

    complaint_id: UUID = Field(description="The complaint's id.")
    channel: Channel = Field(description="The channel the complaint came in by.")
    service_area: ServiceArea = Field(description="The service area complained about (a slug).")
    received_at: UtcDatetime = Field(description="When the council received the complaint.")


class ComplaintReceivedData(_ComplaintData):
    """A complaint was recorded."""

    time_field: ClassVar[str] = "received_at"

    reference: Reference = Field(description="The reference given to the complainant.")
    stage: ComplaintStage = Field(description="The stage it starts at (normally stage_1).")
    enquiry_id: UUID | None = Field(
        default=None, description="The enquiry the complaint arose from, if any."
    )


class ComplaintAcknowledgedData(_ComplaintData):
    """The council acknowledged a complaint at a stage."""

    time_field: ClassVar[str] = "acknowledged_at"

    stage: ComplaintStage = Field(description="The stage acknowledged.")
    acknowledged_at: UtcDatetime = Field(description="When the acknowledgement was sent.")


class ComplaintExtendedData(_ComplaintData):
    """The response deadline at a stage was extended (once, within the policy's limit)."""

    time_field: ClassVar[str] = "extended_at"

    stage: ComplaintStage = Field(description="The stage whose deadline was extended.")
    extended_at: UtcDatetime = Field(description="When the extension was agreed.")
    working_days: int = Field(
        ge=1,
        description="Working days added to the deadline: the new one is closing time on that "
        "many working days after the deadline it replaces.",
    )
    due_at: UtcDatetime | None = Field(
        default=None,
        description="The new response deadline as the publisher computed it from the policy "
        "in force; absent when the response clock has not started yet (under the Complaint "
        "Handling Code it starts at the acknowledgement). Informational: consumers compute "
        "the deadline from the policy and `working_days`.",
    )


class ComplaintRespondedData(_ComplaintData):
    """The council responded to a complaint at a stage with its decision."""

    time_field: ClassVar[str] = "responded_at"

    stage: ComplaintStage = Field(description="The stage responded to.")
    responded_at: UtcDatetime = Field(description="When the response was sent.")
    outcome: ComplaintOutcome = Field(description="The decision: upheld, partly or not upheld.")


class ComplaintEscalatedData(_ComplaintData):
    """A complaint moved to a later stage (stage 1 to stage 2 to the ombudsman)."""

    time_field: ClassVar[str] = "requested_at"

    from_stage: ComplaintStage = Field(description="The stage it left.")
    to_stage: ComplaintStage = Field(description="The stage it moved to.")
    requested_at: UtcDatetime = Field(
        description="When the escalation was requested; the new stage's clocks start from it."
    )

    @model_validator(mode="after")
    def _moves_forward(self) -> Self:
        if not (self.to_stage.recognised and self.from_stage.recognised):
            return self  # a newer producer's stage: this build cannot place it, its producer did
        if _STAGE_ORDER.index(self.to_stage) <= _STAGE_ORDER.index(self.from_stage):
            raise ValueError("to_stage must be a later stage than from_stage")
        return self


class ComplaintClosedData(_ComplaintData):
    """A complaint was closed."""

    time_field: ClassVar[str] = "closed_at"

    stage: ComplaintStage = Field(description="The stage it was at when closed.")
    closed_at: UtcDatetime = Field(description="When the complaint was closed.")
    ombudsman_decision: ComplaintOutcome | None = Field(
        default=None, description="The ombudsman's decision, for a complaint closed at that stage."
    )

    @model_validator(mode="after")
    def _decision_only_from_ombudsman(self) -> Self:
        if (
            self.ombudsman_decision is not None
            and self.stage.recognised
            and self.stage is not ComplaintStage.ombudsman
        ):
            raise ValueError("ombudsman_decision needs stage ombudsman")
        return self


class ComplaintCorrectedData(CorrectedData, _ComplaintData):
    """A complaint's mistyped received_at, channel or service area was corrected."""

    correction: int = correction_count(contact="complaint")


class ComplaintVoidedData(VoidedData, _ComplaintData):
    """A complaint was voided (duplicate, spam or test): it no longer counts anywhere."""

    voided_at: UtcDatetime = voided_at(contact="complaint")
    duplicate_of: UUID | None = duplicate_of(contact="complaint")


class ComplaintReceived(CloudEvent):
    """complaint.received: a complaint was recorded."""

    type: Literal["complaint.received"] = "complaint.received"
    data: ComplaintReceivedData


class ComplaintAcknowledged(CloudEvent):
    """complaint.acknowledged: the council acknowledged a complaint at a stage."""

    type: Literal["complaint.acknowledged"] = "complaint.acknowledged"
    data: ComplaintAcknowledgedData


class ComplaintExtended(CloudEvent):
    """complaint.extended: the response deadline at a stage was extended."""

    type: Literal["complaint.extended"] = "complaint.extended"
    data: ComplaintExtendedData


class ComplaintResponded(CloudEvent):
    """complaint.responded: the council responded to a complaint with its decision."""

    type: Literal["complaint.responded"] = "complaint.responded"
    data: ComplaintRespondedData


class ComplaintEscalated(CloudEvent):
    """complaint.escalated: a complaint moved to a later stage."""

    type: Literal["complaint.escalated"] = "complaint.escalated"
    data: ComplaintEscalatedData


class ComplaintClosed(CloudEvent):
    """complaint.closed: a complaint was closed."""

    type: Literal["complaint.closed"] = "complaint.closed"
    data: ComplaintClosedData


class ComplaintCorrected(CloudEvent):
    """complaint.corrected: a complaint's received_at, channel or service area was corrected."""

    type: Literal["complaint.corrected"] = "complaint.corrected"
    data: ComplaintCorrectedData


class ComplaintVoided(CloudEvent):
    """complaint.voided: a complaint was voided (duplicate, spam or test)."""

    type: Literal["complaint.voided"] = "complaint.voided"
    data: ComplaintVoidedData
