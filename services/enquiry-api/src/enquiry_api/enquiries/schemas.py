"""The enquiry API's request and response bodies: the OpenAPI contract integrators build on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from contact_common.commitments import DueStatus, EnquiryState, enquiry_clocks, next_due
from contact_common.events import Channel, ServiceArea, StaffId, VoidReason
from contact_common.instants import Instant
from contact_common.text import SingleLine
from enquiry_api.common import Address, Email, Name, Phone, Text, Uprn, utc_now
from enquiry_api.config import Settings
from enquiry_api.enquiries.domain import Action, EnquiryStatus, allowed_actions
from enquiry_api.enquiries.models import Enquiry, EnquiryHistory
from enquiry_api.enquiries.service import EnquiryDraft, state_of
from enquiry_api.open311.models import ResidentUpdate


class Customer(BaseModel):
    """Who made the enquiry. Personal data: kept here only, never in events; erasable."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(default=None, description="The customer's name.")
    email: Email | None = Field(default=None, description="The customer's email address.")
    phone: Phone | None = Field(default=None, description="The customer's telephone number.")
    address: Address | None = Field(default=None, description="The customer's postal address.")
    uprn: Uprn | None = Field(
        default=None, description="The Unique Property Reference Number of the customer's address."
    )


class Location(BaseModel):
    """Where the problem is, for reports about a place (Open311, FixMyStreet)."""

    model_config = ConfigDict(extra="forbid")

    address: Address | None = Field(
        default=None, description="A description of the place, e.g. a street address."
    )
    lat: float | None = Field(default=None, ge=-90, le=90, description="WGS84 latitude.")
    long: float | None = Field(default=None, ge=-180, le=180, description="WGS84 longitude.")


class EnquiryCreate(BaseModel):
    """A new enquiry, on any channel."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel = Field(description="How the resident reached the council.")
    service_area: ServiceArea = Field(
        description="The service area it is for; one of the council's configured service areas."
    )
    received_at: Instant = Field(
        description="When the council received it (ISO 8601 with an offset; may be in the past "
        "for a letter or a contractor's record). Commitments count from it."
    )
    description: Text = Field(description="What the enquiry is about, in the resident's words.")
    customer: Customer | None = Field(default=None, description="Who made it, if known.")
    location: Location | None = Field(default=None, description="Where the problem is, if a place.")
    officer_id: StaffId | None = Field(
        default=None,
        description="The staff id of the officer recording the enquiry, recorded in the audit "
        "history beside the API key (which a contact centre may share).",
    )


class StepBase(BaseModel):
    """Fields every lifecycle step accepts."""

    model_config = ConfigDict(extra="forbid")

    at: Instant | None = Field(
        default=None,
        description="When the step happened (ISO 8601 with an offset); now if left out. Not in "
        "the future, not before the enquiry was received or its previous step.",
    )
    officer_id: StaffId | None = Field(
        default=None,
        description="The staff id of the officer taking this step, recorded in the audit "
        "history beside the API key (which a contact centre may share).",
    )


class AcknowledgeRequest(StepBase):
    """Acknowledge an enquiry."""


class AssignRequest(StepBase):
    """Hand an enquiry to a service area, and optionally to an officer."""

    service_area: ServiceArea | None = Field(
        default=None,
        description="The service area to hand it to; the current one if left out. A different "
        "service area is a hand-off, after which it cannot be resolved at first point.",
    )
    assignee_id: StaffId | None = Field(
        default=None, description="The staff id of the officer it is assigned to, if one."
    )


class RespondRequest(StepBase):
    """Record that a substantive response was sent."""


class ResolveRequest(StepBase):
    """Resolve an enquiry."""

    first_point: bool = Field(
        default=False,
        description="Resolved within the first contact with no hand-off (KPI CX04). Refused if "
        "the enquiry was ever handed to another service area or reopened.",
    )


class ReopenRequest(StepBase):
    """Reopen a resolved enquiry; its response clock starts again, as a new clock."""


Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), SingleLine
]
"""Why, in staff's words, for the audit history (never sent in an event)."""


class EnquiryCorrection(BaseModel):
    """A correction of facts mistyped when the enquiry was recorded; give only what changes."""

    model_config = ConfigDict(extra="forbid")

    received_at: Instant | None = Field(
        default=None,
        description="The right received_at (ISO 8601 with an offset): not in the future, not "
        "after the first step taken on the enquiry. Its commitments are due from it.",
    )
    channel: Channel | None = Field(default=None, description="The right channel.")
    service_area: ServiceArea | None = Field(
        default=None, description="The right service area; one of the configured ones."
    )
    reason: Reason = Field(description="Why it is corrected; kept in the audit history.")

    @model_validator(mode="after")
    def _something_to_correct(self) -> EnquiryCorrection:
        if self.received_at is None and self.channel is None and self.service_area is None:
            raise ValueError("give at least one of received_at, channel, service_area")
        return self


class VoidRequest(BaseModel):
    """Void a contact that should never count: a duplicate, spam or a test."""

    model_config = ConfigDict(extra="forbid")

    reason_code: VoidReason = Field(description="duplicate, spam or test.")
    reason: Reason = Field(description="Why, in words; kept in the audit history.")
    duplicate_of: UUID | None = Field(
        default=None, description="For a duplicate: the enquiry it duplicates (which stays)."
    )


class ReceivedUpdate(BaseModel):
    """An update posted on the enquiry through Open311. Personal data: erasable, never in events."""

    update_id: str = Field(description="The sender's own id of the update.")
    status: str = Field(description="The status the sender gave the report (mySociety's).")
    description: str | None = Field(description="What the resident wrote; null once erased.")
    name: str | None = Field(description="Who wrote it; null if not given or erased.")
    email: str | None = Field(description="Their email address; null if not given or erased.")
    phone: str | None = Field(description="Their telephone number; null if not given or erased.")
    media_urls: list[str] = Field(description="Links to its photos; empty once erased.")
    erased_at: datetime | None = Field(description="When its personal data was erased, if so.")


class HistoryEntry(BaseModel):
    """One step in the enquiry's audit history."""

    action: str = Field(
        description="opened, acknowledged, assigned, responded, resolved, reopened, "
        "update_received (an update posted through Open311 servicerequestupdates), "
        "corrected, voided or customer_erased."
    )
    from_status: EnquiryStatus | None = Field(description="The status before; none when opened.")
    to_status: EnquiryStatus = Field(description="The status after.")
    occurred_at: datetime = Field(description="When it happened (UTC).")
    recorded_at: datetime = Field(description="When it was recorded here (UTC).")
    actor_key_id: str = Field(description="The id of the API key that did it.")
    actor_name: str = Field(description="The name of the API key that did it.")
    officer_id: str | None = Field(
        default=None, description="The staff id of the officer who did it, if the client named one."
    )
    details: dict[str, Any] | None = Field(
        default=None,
        description="Facts of the step: service area, assignee id, first_point; for "
        "update_received the sender's update_id, its status and whether it reopened the "
        "enquiry; for a reopening an update caused, cause update_received; for corrected the "
        "reason and each changed field's from and to; for voided reason_code, reason and "
        "duplicate_of.",
    )
    update: ReceivedUpdate | None = Field(
        default=None, description="For update_received: what the update said and who wrote it."
    )


class NextDueOut(BaseModel):
    """The commitment due next on a contact: its deadline and where it stands now."""

    commitment: str = Field(description="The commitment's id, e.g. email-respond.")
    due_at: datetime = Field(
        description="Its deadline (UTC), by the commitments policy in force: the deadline "
        "sla-monitor's clock keeps."
    )
    status: DueStatus = Field(
        description="open (on track), at_risk (the at-risk share of the window has gone) or "
        "breached (the deadline has passed), as at the time of the request."
    )


class EnquiryOut(BaseModel):
    """An enquiry as the API returns it."""

    id: UUID = Field(description="The enquiry's id.")
    reference: str = Field(description="The human reference given to the resident.")
    status: EnquiryStatus = Field(description="Where the enquiry is in its lifecycle.")
    channel: Channel
    service_area: str = Field(description="The service area it is with now.")
    received_at: datetime = Field(description="When the council received it (UTC).")
    description: str | None = Field(description="What it is about; null once erased.")
    customer: Customer | None = Field(description="Who made it; null if unknown or erased.")
    location: Location | None = Field(description="Where the problem is; null if none or erased.")
    source: str = Field(description="How it was recorded: api, open311 or standby.")
    service_code: str | None = Field(description="The Open311 service code, for Open311 requests.")
    call_id: UUID | None = Field(description="The call it was raised from, if any.")
    assignee_id: str | None = Field(description="The officer it is assigned to, if any.")
    acknowledged_at: datetime | None
    assigned_at: datetime | None
    responded_at: datetime | None
    resolved_at: datetime | None
    reopened_at: datetime | None
    first_point: bool | None = Field(description="Resolved at first point; null until resolved.")
    reopen_count: int = Field(description="How many times it has been reopened.")
    allowed_actions: list[Action] = Field(description="The lifecycle steps allowed next.")
    created_at: datetime = Field(description="When it was recorded here (UTC).")
    erased_at: datetime | None = Field(description="When the customer's data was erased, if so.")
    correction_count: int = Field(
        description="How many times its received_at, channel or service area was corrected."
    )
    voided_at: datetime | None = Field(
        description="When it was voided (status voided), if it was: it counts nowhere."
    )
    void_reason_code: VoidReason | None = Field(description="duplicate, spam or test, if voided.")
    void_reason: str | None = Field(description="Why it was voided, in words, if voided.")
    duplicate_of: UUID | None = Field(description="The enquiry it duplicates, if voided so.")
    next_due: NextDueOut | None = Field(
        default=None,
        description="The commitment due next (e.g. email-acknowledge, then email-respond), "
        "from the policy in force and this enquiry's steps; null when none is running.",
    )


class EnquiryDetail(EnquiryOut):
    """An enquiry with its full audit history, oldest step first."""

    history: list[HistoryEntry]


class EnquiryPage(BaseModel):
    """A page of enquiries, newest received first."""

    items: list[EnquiryOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
    total: int | None = Field(
        default=None,
        description="How many enquiries match the filters on every page, when asked for with "
        "`total=true`; null otherwise.",
    )


def _customer(enquiry: Enquiry) -> Customer | None:
    values: dict[str, Any] = {
        "name": enquiry.customer_name,
        "email": enquiry.customer_email,
        "phone": enquiry.customer_phone,
        "address": enquiry.customer_address,
        "uprn": enquiry.customer_uprn,
    }
    if all(v is None for v in values.values()):
        return None
    return Customer.model_construct(**values)


def _location(enquiry: Enquiry) -> Location | None:
    if enquiry.location_address is None and enquiry.latitude is None:
        return None
    return Location.model_construct(
        address=enquiry.location_address, lat=enquiry.latitude, long=enquiry.longitude
    )


def next_due_of(enquiry: Enquiry, settings: Settings) -> NextDueOut | None:
    """The enquiry's next due commitment as at now, from the one policy source."""
    if enquiry.voided_at is not None:
        return None  # a voided enquiry has no commitment running
    state = EnquiryState(
        channel=Channel(enquiry.channel),
        received_at=enquiry.received_at,
        acknowledged_at=enquiry.acknowledged_at,
        responded_at=enquiry.responded_at,
        resolved_at=enquiry.resolved_at,
        reopened_at=enquiry.reopened_at,
        reopen_count=enquiry.reopen_count,
    )
    calendar = settings.calendar
    due = next_due(
        enquiry_clocks(settings.commitments, calendar, state), calendar=calendar, now=utc_now()
    )
    if due is None:
        return None
    return NextDueOut(commitment=due.commitment, due_at=due.due_at, status=due.status)


def _fields(enquiry: Enquiry, settings: Settings | None) -> dict[str, Any]:
    return {
        "id": enquiry.id,
        "reference": enquiry.reference,
        "status": EnquiryStatus(enquiry.status),
        "channel": Channel(enquiry.channel),
        "service_area": enquiry.service_area,
        "received_at": enquiry.received_at,
        "description": enquiry.description,
        "customer": _customer(enquiry),
        "location": _location(enquiry),
        "source": enquiry.source,
        "service_code": enquiry.service_code,
        "call_id": enquiry.call_id,
        "assignee_id": enquiry.assignee_id,
        "acknowledged_at": enquiry.acknowledged_at,
        "assigned_at": enquiry.assigned_at,
        "responded_at": enquiry.responded_at,
        "resolved_at": enquiry.resolved_at,
        "reopened_at": enquiry.reopened_at,
        "first_point": enquiry.first_point,
        "reopen_count": enquiry.reopen_count,
        "allowed_actions": allowed_actions(state_of(enquiry)),
        "created_at": enquiry.created_at,
        "erased_at": enquiry.erased_at,
        "correction_count": enquiry.correction_count,
        "voided_at": enquiry.voided_at,
        "void_reason_code": enquiry.void_reason_code,
        "void_reason": enquiry.void_reason,
        "duplicate_of": enquiry.duplicate_of,
        "next_due": next_due_of(enquiry, settings) if settings is not None else None,
    }


def enquiry_out(enquiry: Enquiry, settings: Settings | None = None) -> EnquiryOut:
    """The API's view of an enquiry, with its next due commitment under `settings`' policy
    (every route passes its settings; without them next_due is null)."""
    return EnquiryOut(**_fields(enquiry, settings))


def _received_update(update: ResidentUpdate | None) -> ReceivedUpdate | None:
    if update is None:
        return None
    return ReceivedUpdate(
        update_id=update.sender_update_id,
        status=update.status,
        description=update.description,
        name=update.name,
        email=update.email,
        phone=update.phone,
        media_urls=update.media_urls or [],
        erased_at=update.erased_at,
    )


def enquiry_detail(
    enquiry: Enquiry,
    history: Sequence[EnquiryHistory],
    updates: Mapping[int, ResidentUpdate] | None = None,
    *,
    settings: Settings | None = None,
) -> EnquiryDetail:
    """The API's view of an enquiry with its audit history (and the updates posted on it)."""
    updates = updates or {}
    return EnquiryDetail(
        **_fields(enquiry, settings),
        history=[
            HistoryEntry(
                action=entry.action,
                from_status=EnquiryStatus(entry.from_status) if entry.from_status else None,
                to_status=EnquiryStatus(entry.to_status),
                occurred_at=entry.occurred_at,
                recorded_at=entry.recorded_at,
                actor_key_id=entry.actor_key_id,
                actor_name=entry.actor_name,
                officer_id=entry.officer_id,
                details=entry.details,
                update=_received_update(updates.get(entry.id)),
            )
            for entry in history
        ],
    )


def draft_of(body: EnquiryCreate) -> EnquiryDraft:
    """The enquiry to open for a POST /v1/enquiries body."""
    customer = body.customer or Customer()
    location = body.location or Location()
    return EnquiryDraft(
        channel=body.channel,
        service_area=body.service_area,
        received_at=body.received_at,
        description=body.description,
        customer_name=customer.name,
        customer_email=customer.email,
        customer_phone=customer.phone,
        customer_address=customer.address,
        customer_uprn=customer.uprn,
        location_address=location.address,
        latitude=location.lat,
        longitude=location.long,
        officer_id=body.officer_id,
    )
