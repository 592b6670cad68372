"""Reception visit records as the kiosk posts them, and what the API answers."""

from __future__ import annotations

from typing import Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contact_common.events import ServiceArea, StaffId
from contact_common.instants import Instant
from enquiry_api.calls.schemas import ExternalId
from enquiry_api.visits.domain import VisitOutcome


class VisitRecordIn(BaseModel):
    """A visitor at reception: posted at check-in, and again (or only) once they were seen."""

    model_config = ConfigDict(extra="forbid")

    visit_id: ExternalId = Field(
        description="The kiosk's own id of the visit: posting it again is harmless, and a later "
        "post with attended_at records the attendance."
    )
    arrived_at: Instant = Field(description="When the visitor checked in.")
    attended_at: Instant | None = Field(
        default=None, description="When staff began to see them, once they have."
    )
    service_area: ServiceArea | None = Field(
        default=None, description="The service area they came about, if known."
    )
    agent_id: StaffId | None = Field(default=None, description="The attending officer's staff id.")
    enquiry_id: UUID | None = Field(default=None, description="The enquiry raised, if one was.")

    @model_validator(mode="after")
    def _attended_after_arrival(self) -> Self:
        if self.attended_at is not None and self.attended_at < self.arrived_at:
            raise ValueError("attended_at is before arrived_at")
        return self


class VisitResult(BaseModel):
    """What happened to one posted visit record."""

    visit_id: str = Field(description="The kiosk's id, as sent.")
    id: UUID = Field(description="The platform's id of the visit (the events' subject).")
    status: VisitOutcome = Field(
        description="created (new visit), attended (attendance added to a known visit) or "
        "duplicate (nothing new)."
    )


class VisitBatchResult(BaseModel):
    """The outcome of a POST /v1/visits, record by record."""

    results: list[VisitResult]
