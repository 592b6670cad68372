"""Requests and responses of the complaints API: the OpenAPI contract."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from complaints_api.complaints.domain import Action, Status
from contact_common.commitments import DueStatus
from contact_common.events import Channel, ComplaintOutcome, ComplaintStage, ServiceArea, VoidReason
from contact_common.instants import Instant
from contact_common.text import SingleLine, Storable

Officer = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    Storable,
    Field(description="The officer's staff id (or name) as the council's systems record it."),
]
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000), Storable
]
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2_000), Storable
]

_AT = (
    "When it happened (ISO 8601 with an offset); now if omitted. Not in the future, and not "
    "before the step it follows."
)


class _Request(BaseModel):
    # A misspelt field (`recieved_at`) is an error the client sees, not a silently lost value.
    model_config = ConfigDict(extra="forbid")


class Customer(_Request):
    """The complainant's details: personal data, kept here only and erasable."""

    name: Annotated[str, SingleLine] | None = Field(
        default=None, max_length=200, description="The customer's name."
    )
    email: Annotated[str, SingleLine] | None = Field(
        default=None,
        max_length=320,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="The customer's email address.",
    )
    phone: str | None = Field(
        default=None,
        max_length=40,
        pattern=r"^[0-9+()\s-]{3,40}$",
        description="The customer's phone number.",
    )
    address: Annotated[str, Storable] | None = Field(
        default=None, max_length=500, description="Postal address."
    )
    uprn: str | None = Field(
        default=None, pattern=r"^[0-9]{1,12}$", description="Unique Property Reference Number."
    )


class ComplaintCreate(_Request):
    """A complaint as received."""

    received_at: Instant = Field(
        description="When the council received it (ISO 8601 with an offset); stage 1 starts here."
    )
    channel: Channel = Field(description="How the complaint came in.")
    service_area: str = Field(
        default="general",
        max_length=64,
        description="The service complained about: one of the council's service areas.",
    )
    description: Text = Field(description="What the customer complains about, in their words.")
    enquiry_id: uuid.UUID | None = Field(
        default=None, description="The enquiry the complaint arose from, if any."
    )
    customer: Customer | None = Field(default=None, description="The complainant's details.")


class AcknowledgeRequest(_Request):
    """The acknowledgement sent to the customer at the current stage."""

    officer: Officer
    at: Instant | None = Field(default=None, description=_AT)


class ExtendRequest(_Request):
    """One extension of the current stage's response deadline."""

    working_days: int = Field(
        ge=1,
        le=366,
        description="Working days added to the response deadline, counted from it: at most "
        "what the commitments policy in force allows at this stage (GET /v1/commitments on "
        "sla-monitor shows `max_extension_working_days`), once per stage.",
    )
    reason: Reason = Field(description="Why more time is needed (told to the customer).")
    officer: Officer | None = None
    at: Instant | None = Field(default=None, description=_AT)


class RespondRequest(_Request):
    """The council's response at the current stage, with its decision."""

    officer: Officer
    outcome: ComplaintOutcome = Field(description="upheld, partly_upheld or not_upheld.")
    summary: Text = Field(description="A summary of the response sent to the customer.")
    at: Instant | None = Field(default=None, description=_AT)


class EscalateRequest(_Request):
    """The customer's request for the next stage: stage 2, or the Ombudsman after stage 2."""

    reason: Reason = Field(description="Why the customer is not satisfied.")
    at: Instant | None = Field(
        default=None,
        description="When the customer asked (the new stage's clocks start here); now if omitted.",
    )


class CloseRequest(_Request):
    """Closing a complaint after the council's response."""

    officer: Officer
    reason: Reason | None = Field(
        default=None, description="Why, e.g. the customer is satisfied or the window passed."
    )
    at: Instant | None = Field(default=None, description=_AT)


class OmbudsmanDecisionRequest(_Request):
    """The Ombudsman's decision on a complaint referred to it; recording it closes the complaint."""

    outcome: ComplaintOutcome = Field(description="The Ombudsman's decision.")
    decided_at: Instant = Field(description="When the Ombudsman decided (with an offset).")
    summary: Text | None = Field(default=None, description="What the Ombudsman found or asked.")
    officer: Officer | None = None


class ComplaintCorrection(_Request):
    """A correction of facts mistyped when the complaint was recorded; give only what changes."""

    received_at: Instant | None = Field(
        default=None,
        description="The right received_at (ISO 8601 with an offset): not in the future, not "
        "after the first step taken on the complaint. Stage 1's deadlines count from it.",
    )
    channel: Channel | None = Field(default=None, description="The right channel.")
    service_area: ServiceArea | None = Field(
        default=None, description="The right service area; one of the configured ones."
    )
    reason: Reason = Field(description="Why it is corrected; kept in the audit history.")

    @model_validator(mode="after")
    def _something_to_correct(self) -> ComplaintCorrection:
        if self.received_at is None and self.channel is None and self.service_area is None:
            raise ValueError("give at least one of received_at, channel, service_area")
        return self


class VoidRequest(_Request):
    """Void a complaint that should never count: a duplicate, spam or a test."""

    reason_code: VoidReason = Field(description="duplicate, spam or test.")
    reason: Reason = Field(description="Why, in words; kept in the audit history.")
    duplicate_of: uuid.UUID | None = Field(
        default=None, description="For a duplicate: the complaint it duplicates (which stays)."
    )


class CustomerOut(BaseModel):
    """The complainant's details (empty after erasure)."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    uprn: str | None = None


class StageOut(BaseModel):
    """What happened at one stage."""

    model_config = ConfigDict(from_attributes=True)

    stage: ComplaintStage
    started_at: datetime = Field(description="Receipt (stage 1) or the escalation request.")
    escalation_reason: str | None = None
    acknowledge_due_at: datetime | None = Field(
        default=None, description="When acknowledgement is due (council stages only)."
    )
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    due_at: datetime | None = Field(
        default=None,
        description="The response deadline under the commitments policy, after any extension; "
        "absent while the response clock has not started (under the Complaint Handling Code "
        "it starts at the acknowledgement). The same deadline sla-monitor's clock keeps.",
    )
    extended_at: datetime | None = None
    extension_working_days: int | None = None
    extension_reason: str | None = None
    extended_by: str | None = None
    responded_at: datetime | None = Field(
        default=None, description="The council's response, or the Ombudsman's decision."
    )
    responded_by: str | None = None
    outcome: ComplaintOutcome | None = None
    summary: str | None = None


class HistoryEntry(BaseModel):
    """One step of the audit history."""

    model_config = ConfigDict(from_attributes=True)

    action: str = Field(
        description="received, acknowledged, extended, responded, escalated, closed, "
        "ombudsman_decision, corrected (details: reason, and each changed field's from and "
        "to), voided (details: reason_code, reason, duplicate_of) or erased."
    )
    stage: ComplaintStage = Field(description="The stage after the step.")
    status: Status = Field(description="The status after the step.")
    occurred_at: datetime = Field(description="When it happened.")
    recorded_at: datetime = Field(description="When it was recorded here.")
    officer: str | None = None
    recorded_by: str = Field(description="The API key that recorded it.")
    details: dict[str, Any] = Field(default_factory=dict)


class NextDueOut(BaseModel):
    """The commitment due next on a complaint: its deadline and where it stands now."""

    commitment: str = Field(description="The commitment's id, e.g. complaint-acknowledge.")
    due_at: datetime = Field(
        description="Its deadline (UTC), as the policy in force set it (an extension "
        "included): the deadline sla-monitor's clock keeps."
    )
    status: DueStatus = Field(
        description="open (on track), at_risk (the at-risk share of the window has gone) or "
        "breached (the deadline has passed), as at the time of the request."
    )


class ComplaintSummary(BaseModel):
    """A complaint in a list."""

    id: uuid.UUID
    reference: str = Field(description="The customer's reference, e.g. CMP-2026-000042.")
    status: Status
    stage: ComplaintStage
    outcome: ComplaintOutcome | None = Field(
        default=None, description="The latest decision (council's or the Ombudsman's)."
    )
    channel: Channel
    service_area: str
    received_at: datetime
    enquiry_id: uuid.UUID | None = None
    due_at: datetime | None = Field(
        default=None, description="The current stage's response deadline, if it has one."
    )
    closed_at: datetime | None = None
    ombudsman_decision: ComplaintOutcome | None = None
    correction_count: int = Field(
        default=0, description="How often its received_at, channel or service area was corrected."
    )
    voided_at: datetime | None = Field(
        default=None, description="When it was voided (status voided): it counts nowhere."
    )
    void_reason_code: VoidReason | None = Field(
        default=None, description="duplicate, spam or test, if voided."
    )
    duplicate_of: uuid.UUID | None = Field(
        default=None, description="The complaint it duplicates, if voided as a duplicate."
    )
    next_due: NextDueOut | None = Field(
        default=None,
        description="The current stage's commitment due next (its acknowledgement, then its "
        "response), from the policy in force; null when none is running (closed, with the "
        "Ombudsman, or responded).",
    )


class ComplaintDetail(ComplaintSummary):
    """A complaint with its stages, history and what may happen next."""

    description: str | None = Field(default=None, description="Empty after erasure.")
    customer: CustomerOut | None = None
    allowed_next: list[Action] = Field(
        description="The actions the escalation policy allows now (each is a POST path)."
    )
    escalate_by: datetime | None = Field(
        default=None, description="At stage 1 after the response: the last moment for stage 2."
    )
    closed_by: str | None = None
    close_reason: str | None = None
    void_reason: str | None = Field(default=None, description="Why it was voided, in words.")
    erased_at: datetime | None = None
    stages: list[StageOut]
    history: list[HistoryEntry]
    created_at: datetime
    updated_at: datetime


class ComplaintPage(BaseModel):
    """One page of complaints, newest received first."""

    items: list[ComplaintSummary]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; absent on the last."
    )
    total: int | None = Field(
        default=None,
        description="How many complaints match the filters on every page, when asked for with "
        "`total=true`; null otherwise.",
    )


class PolicyProblem(BaseModel):
    """A 409: the escalation policy does not allow the step now (RFC 9457, with extensions)."""

    type: str
    title: str
    status: int
    detail: str = Field(description="Where the complaint is, why not, and what is allowed next.")
    instance: str | None = None
    stage: ComplaintStage | None = Field(
        default=None, description="The complaint's stage (absent for a concurrent change)."
    )
    complaint_status: Status | None = Field(default=None, description="Its status.")
    allowed_next: list[Action] | None = Field(
        default=None, description="What the policy allows next."
    )
