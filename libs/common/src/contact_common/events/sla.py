"""SLA clock events, published by sla-monitor to sla.events; subject = the contact's id.

One clock runs per (contact, commitment); a clock breaches at most once.
"""

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field, NonNegativeFloat

from contact_common.events.common import (
    BreachWithdrawal,
    Channel,
    ClockStatus,
    CommitmentId,
    ContactType,
    ServiceArea,
    UtcDatetime,
)
from contact_common.events.envelope import CloudEvent, EventData


class _ClockData(EventData):
    subject_field: ClassVar[str] = "contact_id"

    clock_id: UUID = Field(description="The clock's id: one per (contact, commitment) window.")
    commitment: CommitmentId = Field(description="The commitment's id, e.g. email-acknowledge.")
    contact_type: ContactType = Field(description="The kind of contact the clock runs for.")
    contact_id: UUID = Field(description="The contact's id (enquiry, call, visit or complaint).")
    channel: Channel = Field(description="The contact's channel.")
    service_area: ServiceArea | None = Field(
        default=None, description="The contact's service area; absent for calls without one."
    )
    started_at: UtcDatetime = Field(description="When the clock started.")
    due_at: UtcDatetime = Field(description="The deadline.")


class SlaAtRiskData(_ClockData):
    """A clock passed the at-risk share of its window with no stop."""

    time_field: ClassVar[str] = "at_risk_at"

    at_risk_at: UtcDatetime = Field(description="When the at-risk share of the window was reached.")


class SlaBreachedData(_ClockData):
    """A commitment was breached: the deadline passed, or a stop arrived after it."""

    time_field: ClassVar[str] = "breached_at"

    breached_at: UtcDatetime = Field(
        description="When the breach happened: the deadline, or the late stop."
    )
    stopped_at: UtcDatetime | None = Field(
        default=None, description="The late stop that revealed the breach, if it came from one."
    )


class SlaMetData(_ClockData):
    """A commitment was met: the clock stopped by its deadline."""

    time_field: ClassVar[str] = "stopped_at"

    stopped_at: UtcDatetime = Field(description="When the clock stopped.")
    elapsed_seconds: NonNegativeFloat = Field(
        description="Seconds from start to stop (wall-clock, not working time)."
    )
    corrects_breach: bool = Field(
        default=False,
        description=(
            "True if this clock's sla.breached was published first (its deadline passed with no "
            "stop recorded) and a stop made by the deadline was recorded afterwards: the "
            "commitment was kept, and the breach is withdrawn. Count it met instead."
        ),
    )


class SlaStoppedData(_ClockData):
    """A breached clock's contact was finally dealt with: the late stop of an open breach."""

    time_field: ClassVar[str] = "stopped_at"

    breached_at: UtcDatetime = Field(description="When the breach happened: the deadline.")
    stopped_at: UtcDatetime = Field(
        description="When the clock stopped, after its deadline: the breach is no longer open."
    )


class SlaWithdrawnData(_ClockData):
    """A clock's decision is withdrawn: a breach (a step made in time recorded late), or any."""

    time_field: ClassVar[str] = "withdrawn_at"

    breached_at: UtcDatetime = Field(
        description="The deadline of the breach withdrawn (for a met clock withdrawn by a "
        "correction or a void: the deadline it was met by)."
    )
    withdrawn_at: UtcDatetime = Field(description="When the breach was withdrawn (recorded).")
    cause: BreachWithdrawal = Field(
        description="extended: an extension agreed by the deadline moved it, and the clock runs "
        "again to `due_at` (a new sla.met or sla.breached follows); abandoned: the contact was "
        "withdrawn within the target (a short abandon), excluded from compliance; corrected: "
        "the contact's facts were corrected, and the clock (met or breached) is decided again "
        "(a new sla.met or sla.breached follows, or it runs again, or is cancelled); voided: "
        "the contact was voided, the clock is cancelled. Count the clock nowhere until decided "
        "again."
    )
    status: ClockStatus = Field(
        description="Where the clock is now: running again (pending), excluded, cancelled, or "
        "decided again (met or breached: its sla.met or sla.breached follows)."
    )


class SlaAtRisk(CloudEvent):
    """sla.at_risk: a clock passed the at-risk share of its window."""

    type: Literal["sla.at_risk"] = "sla.at_risk"
    data: SlaAtRiskData


class SlaBreached(CloudEvent):
    """sla.breached: a commitment was breached."""

    type: Literal["sla.breached"] = "sla.breached"
    data: SlaBreachedData


class SlaMet(CloudEvent):
    """sla.met: a commitment was met."""

    type: Literal["sla.met"] = "sla.met"
    data: SlaMetData


class SlaWithdrawn(CloudEvent):
    """sla.withdrawn: a decision is withdrawn; count the clock nowhere until decided again."""

    type: Literal["sla.withdrawn"] = "sla.withdrawn"
    data: SlaWithdrawnData


class SlaStopped(CloudEvent):
    """sla.stopped: an open breach got its late stop; still a breach, no longer open to chase."""

    type: Literal["sla.stopped"] = "sla.stopped"
    data: SlaStoppedData
