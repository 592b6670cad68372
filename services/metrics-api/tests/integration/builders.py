"""Events as the producing services publish them, built tersely for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from contact_common.events import (
    CallAbandoned,
    CallAbandonedData,
    CallAnswered,
    CallAnsweredData,
    CallOffered,
    CallOfferedData,
    Channel,
    CloudEvent,
    ComplaintClosed,
    ComplaintClosedData,
    ComplaintEscalated,
    ComplaintEscalatedData,
    ComplaintExtended,
    ComplaintExtendedData,
    ComplaintOutcome,
    ComplaintReceived,
    ComplaintReceivedData,
    ComplaintResponded,
    ComplaintRespondedData,
    ComplaintStage,
    ContactType,
    EnquiryAcknowledged,
    EnquiryAcknowledgedData,
    EnquiryCorrected,
    EnquiryCorrectedData,
    EnquiryOpened,
    EnquiryOpenedData,
    EnquiryReopened,
    EnquiryReopenedData,
    EnquiryResolved,
    EnquiryResolvedData,
    EnquiryVoided,
    EnquiryVoidedData,
    FeedbackSubmitted,
    FeedbackSubmittedData,
    SlaBreached,
    SlaBreachedData,
    SlaMet,
    SlaMetData,
    SlaStopped,
    SlaStoppedData,
    SlaWithdrawn,
    SlaWithdrawnData,
    VisitArrived,
    VisitArrivedData,
    VisitAttended,
    VisitAttendedData,
    VoidReason,
)


def utc(text: str) -> datetime:
    """An instant written in UTC: `utc("2027-03-31 23:30")`."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Enquiry:
    """One enquiry's events."""

    def __init__(self, channel: str, area: str, received_at: datetime) -> None:
        self.id = uuid4()
        self.common = {
            "enquiry_id": self.id,
            "channel": Channel(channel),
            "service_area": area,
            "received_at": received_at,
        }

    def opened(self) -> CloudEvent:
        data = EnquiryOpenedData(**self.common, reference="ENQ-TEST-" + self.id.hex[:8].upper())
        return EnquiryOpened.from_data(data, source="/enquiry-api")

    def acknowledged(self, at: datetime) -> CloudEvent:
        data = EnquiryAcknowledgedData(**self.common, acknowledged_at=at)
        return EnquiryAcknowledged.from_data(data, source="/enquiry-api")

    def resolved(self, at: datetime, *, first_point: bool) -> CloudEvent:
        data = EnquiryResolvedData(**self.common, resolved_at=at, first_point=first_point)
        return EnquiryResolved.from_data(data, source="/enquiry-api")

    def reopened(self, at: datetime) -> CloudEvent:
        data = EnquiryReopenedData(**self.common, reopened_at=at, reopen_count=1)
        return EnquiryReopened.from_data(data, source="/enquiry-api")

    def corrected(
        self, at: datetime, *, correction: int = 1, channel: str, received_at: datetime
    ) -> CloudEvent:
        """enquiry.corrected; the enquiry's later events carry the corrected facts."""
        previous = dict(self.common)
        self.common = {**self.common, "channel": Channel(channel), "received_at": received_at}
        data = EnquiryCorrectedData(
            **self.common,
            corrected_at=at,
            correction=correction,
            previous_channel=previous["channel"],
            previous_service_area=previous["service_area"],
            previous_received_at=previous["received_at"],
        )
        return EnquiryCorrected.from_data(data, source="/enquiry-api")

    def voided(self, at: datetime) -> CloudEvent:
        data = EnquiryVoidedData(**self.common, voided_at=at, cause=VoidReason.spam)
        return EnquiryVoided.from_data(data, source="/enquiry-api")


def answered_call(
    offered_at: datetime, wait: float, *, area: str | None, channel: str = "phone"
) -> list[CloudEvent]:
    """call.offered then call.answered after `wait` seconds."""
    common = {
        "call_id": uuid4(),
        "channel": Channel(channel),
        "service_area": area,
        "offered_at": offered_at,
    }
    return [
        CallOffered.from_data(CallOfferedData(**common), source="/enquiry-api"),
        CallAnswered.from_data(
            CallAnsweredData(
                **common, answered_at=offered_at + timedelta(seconds=wait), wait_seconds=wait
            ),
            source="/enquiry-api",
        ),
    ]


def abandoned_call(
    offered_at: datetime, wait: float, *, area: str | None, channel: str = "phone"
) -> list[CloudEvent]:
    """call.offered then call.abandoned after `wait` seconds."""
    common = {
        "call_id": uuid4(),
        "channel": Channel(channel),
        "service_area": area,
        "offered_at": offered_at,
    }
    return [
        CallOffered.from_data(CallOfferedData(**common), source="/enquiry-api"),
        CallAbandoned.from_data(
            CallAbandonedData(
                **common, abandoned_at=offered_at + timedelta(seconds=wait), wait_seconds=wait
            ),
            source="/enquiry-api",
        ),
    ]


def visit(arrived_at: datetime, wait: float | None, *, area: str) -> list[CloudEvent]:
    """visit.arrived, and visit.attended after `wait` seconds unless None."""
    common = {"visit_id": uuid4(), "service_area": area, "arrived_at": arrived_at}
    events: list[CloudEvent] = [
        VisitArrived.from_data(VisitArrivedData(**common), source="/enquiry-api")
    ]
    if wait is not None:
        events.append(
            VisitAttended.from_data(
                VisitAttendedData(
                    **common, attended_at=arrived_at + timedelta(seconds=wait), wait_seconds=wait
                ),
                source="/enquiry-api",
            )
        )
    return events


def feedback(channel: str, score: int, at: datetime, *, area: str) -> CloudEvent:
    """feedback.submitted."""
    data = FeedbackSubmittedData(
        feedback_id=uuid4(),
        score=score,
        channel=Channel(channel),
        service_area=area,
        submitted_at=at,
    )
    return FeedbackSubmitted.from_data(data, source="/enquiry-api")


class Complaint:
    """One complaint's events."""

    def __init__(self, area: str, received_at: datetime, channel: str = "email") -> None:
        self.id = uuid4()
        self.common = {
            "complaint_id": self.id,
            "channel": Channel(channel),
            "service_area": area,
            "received_at": received_at,
        }

    def received(self) -> CloudEvent:
        data = ComplaintReceivedData(
            **self.common,
            reference="CMP-TEST-" + self.id.hex[:8].upper(),
            stage=ComplaintStage.stage_1,
        )
        return ComplaintReceived.from_data(data, source="/complaints-api")

    def responded(self, stage: str, outcome: str, at: datetime) -> CloudEvent:
        data = ComplaintRespondedData(
            **self.common,
            stage=ComplaintStage(stage),
            responded_at=at,
            outcome=ComplaintOutcome(outcome),
        )
        return ComplaintResponded.from_data(data, source="/complaints-api")

    def escalated(self, to_stage: str, at: datetime) -> CloudEvent:
        stages = list(ComplaintStage)
        to = ComplaintStage(to_stage)
        data = ComplaintEscalatedData(
            **self.common,
            from_stage=stages[stages.index(to) - 1],
            to_stage=to,
            requested_at=at,
        )
        return ComplaintEscalated.from_data(data, source="/complaints-api")

    def extended(self, stage: str, at: datetime) -> CloudEvent:
        data = ComplaintExtendedData(
            **self.common, stage=ComplaintStage(stage), extended_at=at, working_days=5
        )
        return ComplaintExtended.from_data(data, source="/complaints-api")

    def closed_by_ombudsman(self, decision: str, at: datetime) -> CloudEvent:
        data = ComplaintClosedData(
            **self.common,
            stage=ComplaintStage.ombudsman,
            closed_at=at,
            ombudsman_decision=ComplaintOutcome(decision),
        )
        return ComplaintClosed.from_data(data, source="/complaints-api")


class Clock:
    """One SLA clock's events, as sla-monitor publishes them."""

    def __init__(
        self,
        commitment: str,
        area: str,
        started_at: datetime,
        due_at: datetime,
        *,
        contact_id: UUID | None = None,
        contact_type: str = "enquiry",
        channel: str = "email",
    ) -> None:
        self.contact_id = contact_id or uuid4()
        self.common = {
            "clock_id": uuid4(),
            "commitment": commitment,
            "contact_type": ContactType(contact_type),
            "contact_id": self.contact_id,
            "channel": Channel(channel),
            "service_area": area,
            "started_at": started_at,
            "due_at": due_at,
        }

    @property
    def clock_id(self) -> UUID:
        return self.common["clock_id"]

    def met(
        self,
        stopped_at: datetime,
        *,
        corrects_breach: bool = False,
        due_at: datetime | None = None,
    ) -> CloudEvent:
        elapsed = (stopped_at - self.common["started_at"]).total_seconds()
        common = {**self.common, "due_at": due_at or self.common["due_at"]}
        data = SlaMetData(
            **common,
            stopped_at=stopped_at,
            elapsed_seconds=elapsed,
            corrects_breach=corrects_breach,
        )
        return SlaMet.from_data(data, source="/sla-monitor")

    def stopped(self, stopped_at: datetime) -> CloudEvent:
        data = SlaStoppedData(
            **self.common, breached_at=self.common["due_at"], stopped_at=stopped_at
        )
        return SlaStopped.from_data(data, source="/sla-monitor")

    def breached(
        self, stopped_at: datetime | None = None, *, due_at: datetime | None = None
    ) -> CloudEvent:
        common = {**self.common, "due_at": due_at or self.common["due_at"]}
        data = SlaBreachedData(
            **common, breached_at=stopped_at or common["due_at"], stopped_at=stopped_at
        )
        return SlaBreached.from_data(data, source="/sla-monitor")

    def withdrawn(
        self, cause: str, withdrawn_at: datetime, *, due_at: datetime | None = None
    ) -> CloudEvent:
        """sla.withdrawn: the breach of the clock's first deadline is withdrawn."""
        data = SlaWithdrawnData(
            **{**self.common, "due_at": due_at or self.common["due_at"]},
            breached_at=self.common["due_at"],
            withdrawn_at=withdrawn_at,
            cause=cause,
            status="pending" if cause == "extended" else "excluded",
        )
        return SlaWithdrawn.from_data(data, source="/sla-monitor")
