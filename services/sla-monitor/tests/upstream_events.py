"""Contact events as the other services publish them: sla-monitor's input, for its tests and the
benchmarks that drive it (bench/bench_sla.py, the root bench/profile.py), which put this folder on
sys.path as the tests do."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from aiokafka import AIOKafkaProducer

from contact_common.bus.binding import to_message
from contact_common.bus.topics import CONTACT_EVENTS
from contact_common.events import (
    CallAbandoned,
    CallAbandonedData,
    CallAnswered,
    CallAnsweredData,
    CallOffered,
    CallOfferedData,
    Channel,
    CloudEvent,
    ComplaintAcknowledged,
    ComplaintAcknowledgedData,
    ComplaintClosed,
    ComplaintClosedData,
    ComplaintCorrected,
    ComplaintCorrectedData,
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
    ComplaintVoided,
    ComplaintVoidedData,
    EnquiryAcknowledged,
    EnquiryAcknowledgedData,
    EnquiryAssigned,
    EnquiryAssignedData,
    EnquiryCorrected,
    EnquiryCorrectedData,
    EnquiryOpened,
    EnquiryOpenedData,
    EnquiryReopened,
    EnquiryReopenedData,
    EnquiryResolved,
    EnquiryResolvedData,
    EnquiryResponded,
    EnquiryRespondedData,
    EnquiryVoided,
    EnquiryVoidedData,
    VisitArrived,
    VisitArrivedData,
    VisitAttended,
    VisitAttendedData,
    VoidReason,
)

LONDON = ZoneInfo("Europe/London")


def london(day: date, at: time) -> datetime:
    """A local London wall-clock time as a UTC instant."""
    return datetime.combine(day, at, tzinfo=LONDON).astimezone(UTC)


class Call:
    """A telephone call's events."""

    def __init__(
        self, offered_at: datetime, *, channel: Channel = Channel.phone, id: UUID | None = None
    ) -> None:
        self.id = id or uuid4()
        self.offered_at = offered_at
        self.channel = channel

    def _common(self) -> dict[str, object]:
        return {
            "call_id": self.id,
            "channel": self.channel,
            "offered_at": self.offered_at,
            "queue": "general",
            "service_area": "council_tax",
        }

    def offered(self) -> CloudEvent:
        """call.offered."""
        return CallOffered.from_data(CallOfferedData(**self._common()), source="/enquiry-api")

    def answered(self, after: timedelta) -> CloudEvent:
        """call.answered, `after` the offer."""
        return CallAnswered.from_data(
            CallAnsweredData(
                **self._common(),
                answered_at=self.offered_at + after,
                wait_seconds=after.total_seconds(),
            ),
            source="/enquiry-api",
        )

    def abandoned(self, after: timedelta) -> CloudEvent:
        """call.abandoned, `after` the offer."""
        return CallAbandoned.from_data(
            CallAbandonedData(
                **self._common(),
                abandoned_at=self.offered_at + after,
                wait_seconds=after.total_seconds(),
            ),
            source="/enquiry-api",
        )


class Visit:
    """A visit to reception."""

    def __init__(self, arrived_at: datetime) -> None:
        self.id = uuid4()
        self.arrived_at = arrived_at

    def arrived(self) -> CloudEvent:
        """visit.arrived."""
        return VisitArrived.from_data(
            VisitArrivedData(visit_id=self.id, arrived_at=self.arrived_at), source="/enquiry-api"
        )

    def attended(self, after: timedelta) -> CloudEvent:
        """visit.attended, `after` the arrival."""
        return VisitAttended.from_data(
            VisitAttendedData(
                visit_id=self.id,
                arrived_at=self.arrived_at,
                attended_at=self.arrived_at + after,
                wait_seconds=after.total_seconds(),
            ),
            source="/enquiry-api",
        )


class Enquiry:
    """An enquiry's events."""

    def __init__(
        self,
        received_at: datetime,
        *,
        channel: Channel = Channel.email,
        area: str = "waste",
        reference: str = "ENQ-2026-000001",
    ) -> None:
        self.id = uuid4()
        self.received_at = received_at
        self.channel = channel
        self.area = area
        self.corrections = 0
        self.reference = reference

    def _common(self) -> dict[str, object]:
        return {
            "enquiry_id": self.id,
            "channel": self.channel,
            "service_area": self.area,
            "received_at": self.received_at,
        }

    def opened(self) -> CloudEvent:
        """enquiry.opened."""
        return EnquiryOpened.from_data(
            EnquiryOpenedData(**self._common(), reference=self.reference),
            source="/enquiry-api",
        )

    def acknowledged(self, at: datetime) -> CloudEvent:
        """enquiry.acknowledged."""
        return EnquiryAcknowledged.from_data(
            EnquiryAcknowledgedData(**self._common(), acknowledged_at=at), source="/enquiry-api"
        )

    def assigned(self, at: datetime, assignee_id: str | None) -> CloudEvent:
        """enquiry.assigned (to a team only when assignee_id is None)."""
        return EnquiryAssigned.from_data(
            EnquiryAssignedData(**self._common(), assigned_at=at, assignee_id=assignee_id),
            source="/enquiry-api",
        )

    def responded(self, at: datetime) -> CloudEvent:
        """enquiry.responded."""
        return EnquiryResponded.from_data(
            EnquiryRespondedData(**self._common(), responded_at=at), source="/enquiry-api"
        )

    def resolved(self, at: datetime, *, first_point: bool = False) -> CloudEvent:
        """enquiry.resolved."""
        return EnquiryResolved.from_data(
            EnquiryResolvedData(**self._common(), resolved_at=at, first_point=first_point),
            source="/enquiry-api",
        )

    def reopened(self, at: datetime, count: int = 1) -> CloudEvent:
        """enquiry.reopened."""
        return EnquiryReopened.from_data(
            EnquiryReopenedData(**self._common(), reopened_at=at, reopen_count=count),
            source="/enquiry-api",
        )

    def corrected(
        self,
        at: datetime,
        *,
        received_at: datetime | None = None,
        channel: Channel | None = None,
        area: str | None = None,
    ) -> CloudEvent:
        """enquiry.corrected: later events of this enquiry carry the corrected facts."""
        previous = self._common()
        self.received_at = received_at or self.received_at
        self.channel = channel or self.channel
        self.area = area or self.area
        self.corrections += 1
        return EnquiryCorrected.from_data(
            EnquiryCorrectedData(
                **self._common(),
                corrected_at=at,
                correction=self.corrections,
                previous_channel=previous["channel"],
                previous_service_area=previous["service_area"],
                previous_received_at=previous["received_at"],
            ),
            source="/enquiry-api",
        )

    def voided(self, at: datetime, cause: VoidReason = VoidReason.duplicate) -> CloudEvent:
        """enquiry.voided."""
        return EnquiryVoided.from_data(
            EnquiryVoidedData(**self._common(), voided_at=at, cause=cause),
            source="/enquiry-api",
        )


class Complaint:
    """A complaint's events."""

    def __init__(
        self, received_at: datetime, *, area: str = "housing", reference: str = "CMP-2026-000001"
    ) -> None:
        self.id = uuid4()
        self.received_at = received_at
        self.area = area
        self.reference = reference

    def _common(self) -> dict[str, object]:
        return {
            "complaint_id": self.id,
            "channel": Channel.web_form,
            "service_area": self.area,
            "received_at": self.received_at,
        }

    def received(self) -> CloudEvent:
        """complaint.received at stage 1."""
        return ComplaintReceived.from_data(
            ComplaintReceivedData(
                **self._common(), reference=self.reference, stage=ComplaintStage.stage_1
            ),
            source="/complaints-api",
        )

    def acknowledged(self, at: datetime, stage: str = "stage_1") -> CloudEvent:
        """complaint.acknowledged."""
        return ComplaintAcknowledged.from_data(
            ComplaintAcknowledgedData(
                **self._common(), stage=ComplaintStage(stage), acknowledged_at=at
            ),
            source="/complaints-api",
        )

    def extended(
        self,
        at: datetime,
        working_days: int,
        stage: str = "stage_1",
        due_at: datetime | None = None,
    ) -> CloudEvent:
        """complaint.extended."""
        return ComplaintExtended.from_data(
            ComplaintExtendedData(
                **self._common(),
                stage=ComplaintStage(stage),
                extended_at=at,
                working_days=working_days,
                due_at=due_at,
            ),
            source="/complaints-api",
        )

    def responded(self, at: datetime, stage: str = "stage_1") -> CloudEvent:
        """complaint.responded."""
        return ComplaintResponded.from_data(
            ComplaintRespondedData(
                **self._common(),
                stage=ComplaintStage(stage),
                responded_at=at,
                outcome=ComplaintOutcome.partly_upheld,
            ),
            source="/complaints-api",
        )

    def escalated(self, at: datetime, to: str = "stage_2") -> CloudEvent:
        """complaint.escalated from the stage before `to`."""
        stages = list(ComplaintStage)
        to_stage = ComplaintStage(to)
        return ComplaintEscalated.from_data(
            ComplaintEscalatedData(
                **self._common(),
                from_stage=stages[stages.index(to_stage) - 1],
                to_stage=to_stage,
                requested_at=at,
            ),
            source="/complaints-api",
        )

    def closed(self, at: datetime, stage: str = "stage_1") -> CloudEvent:
        """complaint.closed."""
        return ComplaintClosed.from_data(
            ComplaintClosedData(**self._common(), stage=ComplaintStage(stage), closed_at=at),
            source="/complaints-api",
        )

    def corrected(
        self, at: datetime, *, received_at: datetime | None = None, area: str | None = None
    ) -> CloudEvent:
        """complaint.corrected: later events carry the corrected facts."""
        previous = self._common()
        self.received_at = received_at or self.received_at
        self.area = area or self.area
        return ComplaintCorrected.from_data(
            ComplaintCorrectedData(
                **self._common(),
                corrected_at=at,
                correction=1,
                previous_channel=Channel.web_form,
                previous_service_area=previous["service_area"],
                previous_received_at=previous["received_at"],
            ),
            source="/complaints-api",
        )

    def voided(self, at: datetime, cause: VoidReason = VoidReason.spam) -> CloudEvent:
        """complaint.voided."""
        return ComplaintVoided.from_data(
            ComplaintVoidedData(**self._common(), voided_at=at, cause=cause),
            source="/complaints-api",
        )


async def publish(producer: AIOKafkaProducer, events: Iterable[CloudEvent]) -> None:
    """Sends events to contact.events as the outbox relay does (key = the contact's id)."""
    messages = [to_message(e) for e in events]
    futures = [
        await producer.send(CONTACT_EVENTS, value=m.value, key=m.key, headers=m.headers)
        for m in messages
    ]
    for future in futures:
        await future


async def wait_until(
    condition: Callable[[], Awaitable[bool]], *, timeout: float, what: str
) -> None:
    """Polls `condition` until it holds; raises TimeoutError naming `what` after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.1)


def sla_events_about(events: Iterable[CloudEvent], subjects: set[UUID]) -> list[CloudEvent]:
    """The sla.* events about these contacts (other tests share the broker)."""
    return [e for e in events if e.type.startswith("sla.") and UUID(e.subject) in subjects]
