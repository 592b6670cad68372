"""Events in an enquiry's life, published by enquiry-api; subject = the enquiry id.

Every enquiry event repeats the enquiry's channel, service area and received_at, so a consumer
can start or attribute a clock from whichever event it sees first.
"""

from enum import StrEnum
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from contact_common.events.amendment import (
    CorrectedData,
    VoidedData,
    correction_count,
    duplicate_of,
    voided_at,
)
from contact_common.events.common import (
    Channel,
    Reference,
    ServiceArea,
    StaffId,
    UtcDatetime,
)
from contact_common.events.envelope import CloudEvent, EventData


class _EnquiryData(EventData):
    subject_field: ClassVar[str] = "enquiry_id"

    enquiry_id: UUID = Field(description="The enquiry's id.")
    channel: Channel = Field(description="The channel the enquiry came in by.")
    service_area: ServiceArea = Field(description="The service area the enquiry is for (a slug).")
    received_at: UtcDatetime = Field(
        description="When the council received the enquiry; commitments count from it."
    )


class EnquiryOpenedData(_EnquiryData):
    """An enquiry was recorded."""

    time_field: ClassVar[str] = "received_at"

    reference: Reference = Field(
        description="The reference given to the resident, e.g. ENQ-2026-000123."
    )
    call_id: UUID | None = Field(
        default=None,
        description="The call the enquiry was raised from (e.g. a standby follow-up), if any.",
    )


class EnquiryAcknowledgedData(_EnquiryData):
    """The council acknowledged an enquiry."""

    time_field: ClassVar[str] = "acknowledged_at"

    acknowledged_at: UtcDatetime = Field(description="When the acknowledgement was sent.")


class EnquiryAssignedData(_EnquiryData):
    """An enquiry was handed to a service area or officer."""

    time_field: ClassVar[str] = "assigned_at"

    assigned_at: UtcDatetime = Field(description="When the enquiry was assigned.")
    assignee_id: StaffId | None = Field(
        default=None, description="The staff id of the officer it was assigned to, if one."
    )


class EnquiryRespondedData(_EnquiryData):
    """The council sent a substantive response to an enquiry."""

    time_field: ClassVar[str] = "responded_at"

    responded_at: UtcDatetime = Field(description="When the response was sent.")


class EnquiryResolvedData(_EnquiryData):
    """An enquiry was resolved."""

    time_field: ClassVar[str] = "resolved_at"

    resolved_at: UtcDatetime = Field(description="When the enquiry was resolved.")
    first_point: bool = Field(
        description="Resolved within the first contact with no hand-off (KPI CX04)."
    )


class EnquiryReopenedData(_EnquiryData):
    """A resolved enquiry was reopened; its new response clock is a new clock."""

    time_field: ClassVar[str] = "reopened_at"

    reopened_at: UtcDatetime = Field(description="When the enquiry was reopened.")
    reopen_count: int = Field(ge=1, description="How many times it has now been reopened.")


class UpdateStatus(StrEnum):
    """The status an update gives a report: mySociety's Open311 extension's states, lower-cased.

    OPEN and CLOSED are GeoReport v2's; the rest are the extension's extended statuses, which
    FixMyStreet sends when a council turns them on (REOPEN when a resident reopens a report).
    """

    open = "open"
    reopen = "reopen"
    closed = "closed"
    fixed = "fixed"
    investigating = "investigating"
    in_progress = "in_progress"
    action_scheduled = "action_scheduled"
    duplicate = "duplicate"
    not_councils_responsibility = "not_councils_responsibility"
    no_further_action = "no_further_action"
    internal_referral = "internal_referral"
    for_triage = "for_triage"
    cancelled = "cancelled"


class EnquiryUpdateReceivedData(_EnquiryData):
    """An update on an enquiry came in from outside the council (e.g. a FixMyStreet comment)."""

    time_field: ClassVar[str] = "updated_at"

    updated_at: UtcDatetime = Field(
        description="When the update was made, as its sender says (Open311 updated_datetime)."
    )
    update_id: int = Field(
        ge=1,
        description="enquiry-api's id of the update: the update_id answered to its sender and "
        "listed by Open311 servicerequestupdates.",
    )
    status: UpdateStatus = Field(
        description="The status the sender gives the report. It moves the enquiry only when it "
        "reopens a resolved one (then enquiry.reopened comes first)."
    )
    reopened: bool = Field(description="True if this update reopened the resolved enquiry.")


class EnquiryCorrectedData(CorrectedData, _EnquiryData):
    """An enquiry's mistyped received_at, channel or service area was corrected."""

    correction: int = correction_count(contact="enquiry")


class EnquiryVoidedData(VoidedData, _EnquiryData):
    """An enquiry was voided (duplicate, spam or test): it no longer counts anywhere."""

    voided_at: UtcDatetime = voided_at(contact="enquiry")
    duplicate_of: UUID | None = duplicate_of(contact="enquiry")


class EnquiryOpened(CloudEvent):
    """enquiry.opened: an enquiry was recorded."""

    type: Literal["enquiry.opened"] = "enquiry.opened"
    data: EnquiryOpenedData


class EnquiryAcknowledged(CloudEvent):
    """enquiry.acknowledged: the council acknowledged an enquiry."""

    type: Literal["enquiry.acknowledged"] = "enquiry.acknowledged"
    data: EnquiryAcknowledgedData


class EnquiryAssigned(CloudEvent):
    """enquiry.assigned: an enquiry was handed to a service area or officer."""

    type: Literal["enquiry.assigned"] = "enquiry.assigned"
    data: EnquiryAssignedData


class EnquiryResponded(CloudEvent):
    """enquiry.responded: the council sent a substantive response to an enquiry."""

    type: Literal["enquiry.responded"] = "enquiry.responded"
    data: EnquiryRespondedData


class EnquiryResolved(CloudEvent):
    """enquiry.resolved: an enquiry was resolved, at first point or not."""

    type: Literal["enquiry.resolved"] = "enquiry.resolved"
    data: EnquiryResolvedData


class EnquiryReopened(CloudEvent):
    """enquiry.reopened: a resolved enquiry was reopened."""

    type: Literal["enquiry.reopened"] = "enquiry.reopened"
    data: EnquiryReopenedData


class EnquiryUpdateReceived(CloudEvent):
    """enquiry.update_received: an update on an enquiry came in from outside the council."""

    type: Literal["enquiry.update_received"] = "enquiry.update_received"
    data: EnquiryUpdateReceivedData


class EnquiryCorrected(CloudEvent):
    """enquiry.corrected: an enquiry's received_at, channel or service area was corrected."""

    type: Literal["enquiry.corrected"] = "enquiry.corrected"
    data: EnquiryCorrectedData


class EnquiryVoided(CloudEvent):
    """enquiry.voided: an enquiry was voided (duplicate, spam or test)."""

    type: Literal["enquiry.voided"] = "enquiry.voided"
    data: EnquiryVoidedData
