"""Events for visits to reception; subject = the visit id."""

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field, NonNegativeFloat

from contact_common.events.common import Channel, ServiceArea, StaffId, UtcDatetime
from contact_common.events.envelope import CloudEvent, EventData
from contact_common.events.wait import WaitEndedData


class _VisitData(EventData):
    subject_field: ClassVar[str] = "visit_id"

    visit_id: UUID = Field(description="The visit's id.")
    channel: Literal[Channel.face_to_face] = Field(
        default=Channel.face_to_face, description="Always face_to_face."
    )
    service_area: ServiceArea | None = Field(
        default=None, description="The service area the visitor came about, where known."
    )
    arrived_at: UtcDatetime = Field(description="When the visitor arrived (checked in).")


class VisitArrivedData(_VisitData):
    """A visitor arrived at reception."""

    time_field: ClassVar[str] = "arrived_at"


class VisitAttendedData(WaitEndedData, _VisitData):
    """A visitor was seen by a member of staff."""

    time_field: ClassVar[str] = "attended_at"
    wait_began_field: ClassVar[str] = "arrived_at"

    attended_at: UtcDatetime = Field(description="When staff began to see the visitor.")
    wait_seconds: NonNegativeFloat = Field(description="Seconds the visitor waited to be seen.")
    agent_id: StaffId | None = Field(default=None, description="The attending officer's staff id.")


class VisitArrived(CloudEvent):
    """visit.arrived: a visitor arrived at reception."""

    type: Literal["visit.arrived"] = "visit.arrived"
    data: VisitArrivedData


class VisitAttended(CloudEvent):
    """visit.attended: a visitor was seen by a member of staff."""

    type: Literal["visit.attended"] = "visit.attended"
    data: VisitAttendedData
