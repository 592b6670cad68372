"""Events for telephone calls (office hours and the standby contractor); subject = the call id."""

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field, NonNegativeFloat

from contact_common.events.common import Channel, ServiceArea, Slug, StaffId, UtcDatetime
from contact_common.events.envelope import CloudEvent, EventData
from contact_common.events.wait import WaitEndedData

CallChannel = Literal[Channel.phone, Channel.standby]


class _CallData(EventData):
    subject_field: ClassVar[str] = "call_id"

    call_id: UUID = Field(description="The call's id.")
    channel: CallChannel = Field(
        description="phone for the contact centre, standby for the out-of-hours contractor."
    )
    queue: Slug | None = Field(default=None, description="The telephony queue it was offered to.")
    service_area: ServiceArea | None = Field(
        default=None, description="The service area the call was for, where known."
    )
    offered_at: UtcDatetime = Field(description="When the call was offered to the queue.")


class CallOfferedData(_CallData):
    """A call was offered to a queue."""

    time_field: ClassVar[str] = "offered_at"


class CallAnsweredData(WaitEndedData, _CallData):
    """A call was answered by an agent."""

    time_field: ClassVar[str] = "answered_at"
    wait_began_field: ClassVar[str] = "offered_at"

    answered_at: UtcDatetime = Field(description="When an agent answered.")
    wait_seconds: NonNegativeFloat = Field(description="Seconds the caller waited to be answered.")
    agent_id: StaffId | None = Field(default=None, description="The answering agent's staff id.")
    ended_at: UtcDatetime | None = Field(default=None, description="When the call ended, if known.")


class CallAbandonedData(WaitEndedData, _CallData):
    """A caller hung up before being answered."""

    time_field: ClassVar[str] = "abandoned_at"
    wait_began_field: ClassVar[str] = "offered_at"

    abandoned_at: UtcDatetime = Field(description="When the caller hung up.")
    wait_seconds: NonNegativeFloat = Field(
        description="Seconds the caller waited before hanging up."
    )


class CallOffered(CloudEvent):
    """call.offered: a call was offered to a queue."""

    type: Literal["call.offered"] = "call.offered"
    data: CallOfferedData


class CallAnswered(CloudEvent):
    """call.answered: a call was answered by an agent."""

    type: Literal["call.answered"] = "call.answered"
    data: CallAnsweredData


class CallAbandoned(CloudEvent):
    """call.abandoned: a caller hung up before being answered."""

    type: Literal["call.abandoned"] = "call.abandoned"
    data: CallAbandonedData
