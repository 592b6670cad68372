"""What the worklist endpoint answers."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from sla_monitor.worklist.domain import WorklistRow, WorkStatus


class WorklistItem(BaseModel):
    """One open clock: the contact by its reference, the commitment, the owner, the deadline."""

    clock_id: UUID = Field(description="The clock's id, as in its sla.* events.")
    subject_type: str = Field(description="enquiry, complaint, call or visit.")
    subject_id: UUID = Field(description="The contact's id.")
    reference: str | None = Field(
        description="The contact's human reference (ENQ-…, CMP-…), from enquiry.opened or "
        "complaint.received; null until that event has arrived, and for calls and visits."
    )
    commitment: str = Field(description="The commitment's id, e.g. email-respond.")
    service_area: str | None = Field(description="The contact's service area.")
    stage: str | None = Field(description="The complaint stage, for complaints.")
    assignee_id: str | None = Field(
        description="The staff id of the officer it is assigned to (the latest "
        "enquiry.assigned); null if unassigned or assigned to a team only."
    )
    assignee_name: str | None = Field(
        description="The assignee's name from the staff directory; null if not in it."
    )
    assignee_team: str | None = Field(description="The assignee's team from the directory.")
    started_at: datetime = Field(description="When the clock started (UTC).")
    due_at: datetime = Field(description="The deadline (UTC).")
    at_risk_at: datetime = Field(description="When the at-risk share of the window is reached.")
    status: WorkStatus = Field(
        description="breached (deadline passed, no stop yet), at_risk (the at-risk share of "
        "the window has gone) or open (on track), as at `as_of`."
    )

    @classmethod
    def of(cls, row: WorklistRow) -> WorklistItem:
        """The API view of a worklist row."""
        return cls.model_validate(row, from_attributes=True)


class WorklistPage(BaseModel):
    """A page of the worklist, earliest deadline first."""

    as_of: datetime = Field(description="The service's time the statuses are as at (UTC).")
    total: int = Field(description="How many open clocks match the filters, on every page.")
    items: list[WorklistItem]
    next_cursor: str | None = Field(
        description="Pass as cursor for the next page; null on the last page."
    )
