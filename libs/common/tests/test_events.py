"""The event contract: every type round-trips, refuses what it should, carries no personal data,
and changes only compatibly against the committed snapshots and the published docs."""

import json
import os
import types
import typing
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import Any
from uuid import UUID

import annotated_types
import orjson
import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel, StringConstraints, ValidationError

from contact_common.bus.topics import CONTACT_EVENTS, SLA_EVENTS, dead_letter_topic
from contact_common.events import (
    EVENT_TYPES,
    UPCASTERS,
    BreachWithdrawal,
    CallAbandoned,
    CallAbandonedData,
    CallAnswered,
    CallAnsweredData,
    CallOffered,
    CallOfferedData,
    Channel,
    ClockStatus,
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
    ContactType,
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
    EnquiryUpdateReceived,
    EnquiryUpdateReceivedData,
    EnquiryVoided,
    EnquiryVoidedData,
    EventData,
    EventDecodeError,
    FeedbackSubmitted,
    FeedbackSubmittedData,
    SlaAtRisk,
    SlaAtRiskData,
    SlaBreached,
    SlaBreachedData,
    SlaMet,
    SlaMetData,
    SlaStopped,
    SlaStoppedData,
    SlaWithdrawn,
    SlaWithdrawnData,
    UpdateStatus,
    VisitArrived,
    VisitArrivedData,
    VisitAttended,
    VisitAttendedData,
    VoidReason,
    decode_event,
    encode_event,
    event_adapter,
    export,
    topic_for,
)
from contact_common.events.compat import breaking_changes

REPO_ROOT = Path(__file__).resolve().parents[3]
DOCS_DIR = REPO_ROOT / "docs" / "events"
SNAPSHOT_DIR = Path(__file__).resolve().parent / "events_snapshot"
UPDATE_SNAPSHOTS = os.environ.get("UPDATE_EVENT_SNAPSHOTS") == "1"

ENQUIRY_ID = UUID("0b0e7a4e-0000-4000-8000-000000000001")
CALL_ID = UUID("0b0e7a4e-0000-4000-8000-000000000002")
VISIT_ID = UUID("0b0e7a4e-0000-4000-8000-000000000003")
FEEDBACK_ID = UUID("0b0e7a4e-0000-4000-8000-000000000004")
COMPLAINT_ID = UUID("0b0e7a4e-0000-4000-8000-000000000005")
CLOCK_ID = UUID("0b0e7a4e-0000-4000-8000-000000000006")
T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def sample_events() -> list[CloudEvent]:
    """One valid instance of every event type."""
    enquiry: dict[str, Any] = {
        "enquiry_id": ENQUIRY_ID,
        "channel": Channel.email,
        "service_area": "council_tax",
        "received_at": T0,
    }
    call: dict[str, Any] = {
        "call_id": CALL_ID,
        "channel": Channel.phone,
        "queue": "council-tax",
        "service_area": "council_tax",
        "offered_at": T0,
    }
    visit: dict[str, Any] = {"visit_id": VISIT_ID, "service_area": "housing", "arrived_at": T0}
    complaint: dict[str, Any] = {
        "complaint_id": COMPLAINT_ID,
        "channel": Channel.web_form,
        "service_area": "waste",
        "received_at": T0,
    }
    clock: dict[str, Any] = {
        "clock_id": CLOCK_ID,
        "commitment": "email-acknowledge",
        "contact_type": ContactType.enquiry,
        "contact_id": ENQUIRY_ID,
        "channel": Channel.email,
        "service_area": "council_tax",
        "started_at": T0,
        "due_at": at(8 * 60),
    }
    data: list[tuple[type[CloudEvent], EventData]] = [
        (EnquiryOpened, EnquiryOpenedData(**enquiry, reference="ENQ-2026-000123")),
        (EnquiryAcknowledged, EnquiryAcknowledgedData(**enquiry, acknowledged_at=at(30))),
        (EnquiryAssigned, EnquiryAssignedData(**enquiry, assigned_at=at(40), assignee_id="u1042")),
        (EnquiryResponded, EnquiryRespondedData(**enquiry, responded_at=at(90))),
        (EnquiryResolved, EnquiryResolvedData(**enquiry, resolved_at=at(95), first_point=False)),
        (EnquiryReopened, EnquiryReopenedData(**enquiry, reopened_at=at(900), reopen_count=1)),
        (
            EnquiryUpdateReceived,
            EnquiryUpdateReceivedData(
                **enquiry,
                updated_at=at(900),
                update_id=4242,
                status=UpdateStatus.open,
                reopened=True,
            ),
        ),
        (
            EnquiryCorrected,
            EnquiryCorrectedData(
                **enquiry,
                corrected_at=at(120),
                correction=1,
                previous_channel=Channel.letter,
                previous_service_area="waste",
                previous_received_at=at(-60 * 24),
            ),
        ),
        (
            EnquiryVoided,
            EnquiryVoidedData(
                **enquiry,
                voided_at=at(130),
                cause=VoidReason.duplicate,
                duplicate_of=COMPLAINT_ID,
            ),
        ),
        (CallOffered, CallOfferedData(**call)),
        (
            CallAnswered,
            CallAnsweredData(
                **call, answered_at=at(0.2), wait_seconds=12.0, agent_id="agent-7", ended_at=at(5)
            ),
        ),
        (CallAbandoned, CallAbandonedData(**call, abandoned_at=at(1), wait_seconds=60.0)),
        (VisitArrived, VisitArrivedData(**visit)),
        (VisitAttended, VisitAttendedData(**visit, attended_at=at(4), wait_seconds=240.0)),
        (
            FeedbackSubmitted,
            FeedbackSubmittedData(
                feedback_id=FEEDBACK_ID,
                score=4,
                channel=Channel.portal,
                service_area="council_tax",
                submitted_at=at(100),
                enquiry_id=ENQUIRY_ID,
            ),
        ),
        (
            ComplaintReceived,
            ComplaintReceivedData(
                **complaint, reference="CMP-2026-000045", stage=ComplaintStage.stage_1
            ),
        ),
        (
            ComplaintAcknowledged,
            ComplaintAcknowledgedData(
                **complaint, stage=ComplaintStage.stage_1, acknowledged_at=at(60)
            ),
        ),
        (
            ComplaintExtended,
            ComplaintExtendedData(
                **complaint,
                stage=ComplaintStage.stage_1,
                extended_at=at(600),
                working_days=5,
                due_at=at(60 * 24 * 21),
            ),
        ),
        (
            ComplaintResponded,
            ComplaintRespondedData(
                **complaint,
                stage=ComplaintStage.stage_1,
                responded_at=at(60 * 24 * 7),
                outcome=ComplaintOutcome.partly_upheld,
            ),
        ),
        (
            ComplaintEscalated,
            ComplaintEscalatedData(
                **complaint,
                from_stage=ComplaintStage.stage_1,
                to_stage=ComplaintStage.stage_2,
                requested_at=at(60 * 24 * 8),
            ),
        ),
        (
            ComplaintClosed,
            ComplaintClosedData(
                **complaint,
                stage=ComplaintStage.ombudsman,
                closed_at=at(60 * 24 * 90),
                ombudsman_decision=ComplaintOutcome.not_upheld,
            ),
        ),
        (
            ComplaintCorrected,
            ComplaintCorrectedData(
                **complaint,
                corrected_at=at(120),
                correction=2,
                previous_channel=Channel.email,
                previous_service_area="housing",
                previous_received_at=at(60),
            ),
        ),
        (
            ComplaintVoided,
            ComplaintVoidedData(**complaint, voided_at=at(130), cause=VoidReason.test),
        ),
        (SlaAtRisk, SlaAtRiskData(**clock, at_risk_at=at(6 * 60))),
        (SlaBreached, SlaBreachedData(**clock, breached_at=at(8 * 60), stopped_at=at(9 * 60))),
        (SlaMet, SlaMetData(**clock, stopped_at=at(30), elapsed_seconds=1800.0)),
        (SlaStopped, SlaStoppedData(**clock, breached_at=at(8 * 60), stopped_at=at(10 * 60))),
        (
            SlaWithdrawn,
            SlaWithdrawnData(
                **clock,
                breached_at=at(8 * 60),
                withdrawn_at=at(9 * 60),
                cause=BreachWithdrawal.abandoned,
                status=ClockStatus.excluded,
            ),
        ),
    ]
    source = {"sla": "/sla-monitor", "complaint": "/complaints-api"}
    return [
        cls.from_data(
            payload,
            source=source.get(cls.model_fields["type"].default.split(".")[0], "/enquiry-api"),
        )
        for cls, payload in data
    ]


SAMPLES = {event.type: event for event in sample_events()}


def data_class(event_class: type[CloudEvent]) -> type[EventData]:
    return event_class.model_fields["data"].annotation  # type: ignore[return-value]


def as_json(event: CloudEvent) -> dict[str, Any]:
    return event.model_dump(mode="json")


# --- round trips and the envelope -------------------------------------------------------------


def test_samples_cover_every_type() -> None:
    assert list(SAMPLES) == list(EVENT_TYPES)
    assert all(type(event) is EVENT_TYPES[name] for name, event in SAMPLES.items())


@pytest.mark.parametrize("event_type", list(EVENT_TYPES))
def test_round_trip(event_type: str) -> None:
    event = SAMPLES[event_type]
    raw = encode_event(event)
    decoded = decode_event(raw)
    assert decoded == event
    assert type(decoded) is EVENT_TYPES[event_type]
    assert event_adapter.validate_python(as_json(event)) == event
    assert encode_event(decoded) == raw


@pytest.mark.parametrize("event_type", list(EVENT_TYPES))
def test_envelope_is_cloudevents_structured_json(event_type: str) -> None:
    event = SAMPLES[event_type]
    wire = orjson.loads(encode_event(event))
    assert wire["specversion"] == "1.0"
    assert wire["datacontenttype"] == "application/json"
    assert wire["type"] == event_type
    assert UUID(wire["id"]) == event.id
    assert wire["source"].startswith("/")
    assert wire["subject"] == str(event.data.subject_id)
    assert wire["time"].endswith("Z")
    assert event.partition_key == wire["subject"].encode()
    assert data_class(type(event)).subject_field in wire["data"]
    assert data_class(type(event)).time_field in wire["data"]


def test_topics() -> None:
    for event_type, event in SAMPLES.items():
        expected = SLA_EVENTS if event_type.startswith("sla.") else CONTACT_EVENTS
        assert topic_for(event) == expected
        assert topic_for(event_type) == expected
    with pytest.raises(ValueError):
        topic_for("no.such")


def test_events_are_frozen() -> None:
    event = SAMPLES["enquiry.opened"]
    with pytest.raises(ValidationError):
        event.subject = "x"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        event.data.reference = "ENQ-1"  # type: ignore[misc, union-attr]


def test_time_normalised_to_utc() -> None:
    bst = timezone(timedelta(hours=1))
    received = datetime(2026, 4, 1, 10, 0, tzinfo=bst)
    event = EnquiryOpened(
        source="/enquiry-api",
        subject=str(ENQUIRY_ID),
        time=received,
        data=EnquiryOpenedData(
            enquiry_id=ENQUIRY_ID,
            channel=Channel.portal,
            service_area="waste",
            received_at=received,
            reference="ENQ-2026-000001",
        ),
    )
    assert event.time == T0 and event.time.tzinfo is UTC
    assert event.data.received_at.tzinfo is UTC
    assert orjson.loads(encode_event(event))["time"] == "2026-04-01T09:00:00Z"
    raw = dict(as_json(event), time="2026-04-01T10:00:00+01:00")
    assert decode_event(orjson.dumps(raw)).time.tzinfo is UTC


def test_naive_datetimes_refused() -> None:
    wire = as_json(SAMPLES["enquiry.opened"])
    with pytest.raises(ValidationError, match="timezone"):
        EnquiryOpened.model_validate({**wire, "time": "2026-04-01T09:00:00"})
    with pytest.raises(ValidationError, match="timezone"):
        EnquiryAcknowledgedData(
            enquiry_id=ENQUIRY_ID,
            channel=Channel.email,
            service_area="waste",
            received_at=T0,
            acknowledged_at=datetime(2026, 4, 1, 9, 30),
        )


def test_unknown_fields_are_ignored_by_a_tolerant_reader() -> None:
    # An additive change must not dead-letter events at consumers that do not know the field yet.
    wire = as_json(SAMPLES["enquiry.opened"])
    event = EnquiryOpened.model_validate({**wire, "data": {**wire["data"], "priority": "high"}})
    assert event == SAMPLES["enquiry.opened"]
    assert "priority" not in encode_event(event).decode()


def test_extension_attributes_are_kept_and_written_back() -> None:
    # Top-level attributes the envelope does not name are CloudEvents extensions (traceparent).
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    wire = {**as_json(SAMPLES["enquiry.opened"]), "traceparent": traceparent}
    event = decode_event(orjson.dumps(wire))
    assert event.extensions == {"traceparent": traceparent}
    assert orjson.loads(encode_event(event)) == wire
    built = SAMPLES["enquiry.opened"].with_extensions(traceparent=traceparent)
    assert built == event and SAMPLES["enquiry.opened"].extensions == {}
    for name in ("trace_parent", "Traceparent", "subject", "a" * 21):
        with pytest.raises(ValueError, match="extension attribute name"):
            SAMPLES["enquiry.opened"].with_extensions(**{name: "x"})


def test_wrong_type_literal_refused() -> None:
    wire = as_json(SAMPLES["enquiry.opened"])
    with pytest.raises(ValidationError):
        EnquiryOpened.model_validate({**wire, "type": "enquiry.acknowledged"})
    with pytest.raises(ValidationError):
        event_adapter.validate_python({**wire, "type": "enquiry.acknowledged"})


def test_subject_and_time_must_agree_with_data() -> None:
    wire = as_json(SAMPLES["call.answered"])
    with pytest.raises(ValidationError, match="subject must be data.call_id"):
        CallAnswered.model_validate({**wire, "subject": str(ENQUIRY_ID)})
    with pytest.raises(ValidationError, match="time must equal data.answered_at"):
        CallAnswered.model_validate({**wire, "time": "2026-04-01T08:00:00Z"})


def test_data_rules() -> None:
    escalated = as_json(SAMPLES["complaint.escalated"])["data"]
    with pytest.raises(ValidationError, match="later stage"):
        ComplaintEscalatedData.model_validate({**escalated, "to_stage": "stage_1"})
    closed = as_json(SAMPLES["complaint.closed"])["data"]
    with pytest.raises(ValidationError, match="ombudsman"):
        ComplaintClosedData.model_validate({**closed, "stage": "stage_2"})
    answered = as_json(SAMPLES["call.answered"])["data"]
    with pytest.raises(ValidationError, match="before offered_at"):
        CallAnsweredData.model_validate({**answered, "answered_at": "2026-04-01T08:59:00Z"})
    with pytest.raises(ValidationError):
        CallAnsweredData.model_validate({**answered, "channel": "email"})
    with pytest.raises(ValidationError):
        CallAnsweredData.model_validate({**answered, "wait_seconds": -1})
    extended = as_json(SAMPLES["complaint.extended"])["data"]
    with pytest.raises(ValidationError):
        ComplaintExtendedData.model_validate({**extended, "working_days": 0})
    # How long an extension may be is the commitments policy's to say, not the wire format's.
    assert ComplaintExtendedData.model_validate({**extended, "working_days": 20}).working_days == 20
    feedback = as_json(SAMPLES["feedback.submitted"])["data"]
    for score in (0, 6):
        with pytest.raises(ValidationError):
            FeedbackSubmittedData.model_validate({**feedback, "score": score})
    opened = as_json(SAMPLES["enquiry.opened"])["data"]
    for area in ("Council Tax", "", "a" * 65):
        with pytest.raises(ValidationError):
            EnquiryOpenedData.model_validate({**opened, "service_area": area})
    with pytest.raises(ValidationError):
        EnquiryOpenedData.model_validate({**opened, "reference": "Mrs Smith, 1 High St"})


# --- the encoding -----------------------------------------------------------------------------
# encode_event writes with pydantic's serializer. Events were written with orjson from
# model_dump(mode="json") before: a row republished after the change must read the same.


def orjson_encoding(event: CloudEvent) -> bytes:
    """The encoding encode_event replaced: the same bytes are what the serializer must write."""
    return orjson.dumps(event.model_dump(mode="json"))


# Aware instants, in zones that are not UTC too (the models normalise them), with microseconds.
INSTANTS = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9000, 12, 31))
OFFSETS = st.sampled_from(
    [UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-9, minutes=-30))]
)


def values_of(annotation: Any, metadata: list[Any]) -> st.SearchStrategy[Any]:
    """Any value a data field of this annotation and these constraints may hold."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        return values_of(inner, [*metadata, *extra])
    if origin in (typing.Union, types.UnionType):
        return st.one_of([values_of(arg, metadata) for arg in typing.get_args(annotation)])
    if origin is typing.Literal:
        return st.sampled_from(typing.get_args(annotation))
    ge = next((item.ge for item in metadata if isinstance(item, annotated_types.Ge)), None)
    le = next((item.le for item in metadata if isinstance(item, annotated_types.Le)), None)
    if annotation is type(None):
        return st.none()
    if annotation is int:
        # orjson refuses integers beyond 64 bits, which the serializer writes; no count gets there.
        return st.integers(
            min_value=-(2**63) if ge is None else ge, max_value=2**63 if le is None else le
        )
    if annotation is float:
        return st.floats(min_value=ge, max_value=le, allow_nan=False)
    if annotation is str:
        [pattern] = [item.pattern for item in metadata if isinstance(item, StringConstraints)]
        return st.from_regex(pattern, fullmatch=True)
    if annotation is bool:
        return st.booleans()
    if annotation is UUID:
        return st.uuids()
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return st.sampled_from(list(annotation))
    raise TypeError(f"no strategy for {annotation!r}")


def is_instant(annotation: Any) -> bool:
    return AwareDatetime in leaf_types(annotation)


@st.composite
def events_of(draw: st.DrawFn, event_class: type[CloudEvent]) -> CloudEvent:
    """Any valid event of this type: every field drawn, its instants in the order declared."""
    model = data_class(event_class)
    fields = model.model_fields
    instants = sorted(draw(st.lists(INSTANTS, min_size=len(fields), max_size=len(fields))))
    values: dict[str, Any] = {}
    for (name, field), instant in zip(fields.items(), instants, strict=True):
        if is_instant(field.annotation):
            # Later fields (answered after offered) never come before earlier ones.
            at = instant.replace(tzinfo=UTC).astimezone(draw(OFFSETS))
            optional = type(None) in leaf_types(field.annotation)
            values[name] = draw(st.none()) if optional and draw(st.booleans()) else at
        else:
            values[name] = draw(values_of(field.annotation, list(field.metadata)))
    try:
        data = model(**values)
    except ValidationError:
        reject()  # a rule across fields, e.g. an escalation to an earlier stage
    subject = data.subject_id
    return event_class(
        id=draw(st.uuids()),
        source=draw(st.text(min_size=1, max_size=200)),
        subject=draw(
            st.sampled_from([str(subject), subject.hex, subject.urn, str(subject).upper()])
        ),
        time=data.occurred_at.astimezone(draw(OFFSETS)),
        data=data,
    )


@pytest.mark.parametrize("event_type", list(EVENT_TYPES))
def test_encoding_is_byte_for_byte_the_orjson_one(event_type: str) -> None:
    @settings(max_examples=100, deadline=None)
    @given(event=events_of(EVENT_TYPES[event_type]))
    def encodes_the_same(event: CloudEvent) -> None:
        assert encode_event(event) == orjson_encoding(event)

    assert encode_event(SAMPLES[event_type]) == orjson_encoding(SAMPLES[event_type])
    encodes_the_same()


# --- decoding failures ------------------------------------------------------------------------


def decode_failure(raw: bytes) -> EventDecodeError:
    with pytest.raises(EventDecodeError) as caught:
        decode_event(raw)
    return caught.value


def test_decode_not_json() -> None:
    error = decode_failure(b"{not json")
    assert error.kind == "not_json" and error.reason.startswith("not JSON")


def test_decode_not_an_object() -> None:
    error = decode_failure(b"[1, 2]")
    assert error.kind == "not_object" and error.reason.startswith("not a JSON object")


def test_decode_missing_type() -> None:
    wire = as_json(SAMPLES["enquiry.opened"])
    del wire["type"]
    error = decode_failure(orjson.dumps(wire))
    assert error.kind == "missing_type" and error.reason.startswith("missing type")
    error = decode_failure(orjson.dumps({**wire, "type": 7}))
    assert error.kind == "missing_type"


def test_decode_unknown_type() -> None:
    wire = as_json(SAMPLES["enquiry.opened"])
    error = decode_failure(orjson.dumps({**wire, "type": "enquiry.teleported"}))
    assert error.kind == "unknown_type" and error.newer_producer
    assert error.reason == "unknown event type 'enquiry.teleported'"
    assert error.event_type == "enquiry.teleported"


def test_decode_unknown_type_without_the_envelope_is_not_an_event() -> None:
    wire = as_json(SAMPLES["enquiry.opened"])
    for attribute in ("specversion", "id", "source"):
        broken = {**wire, "type": "enquiry.teleported"}
        del broken[attribute]
        error = decode_failure(orjson.dumps(broken))
        assert error.kind == "not_cloudevent" and not error.newer_producer
        assert attribute in error.reason


def test_decode_unknown_vocabulary_value() -> None:
    wire = as_json(SAMPLES["complaint.responded"])
    wire["data"] = {**wire["data"], "channel": "whatsapp", "outcome": "withdrawn"}
    raw = orjson.dumps(wire)
    error = decode_failure(raw)
    assert error.kind == "unknown_value" and error.newer_producer
    assert error.event_type == "complaint.responded"
    assert "data.channel 'whatsapp'" in error.reason and "data.outcome 'withdrawn'" in error.reason

    event = decode_event(raw, keep_unknown_values=True)
    assert isinstance(event, ComplaintResponded)
    assert event.data.channel == "whatsapp" and not event.data.channel.recognised
    assert isinstance(event.data.channel, Channel) and event.data.channel not in list(Channel)
    assert event.data.stage is ComplaintStage.stage_1 and event.data.stage.recognised
    assert encode_event(event) == raw  # passed on as it came


def test_kept_values_must_look_like_a_vocabulary_value() -> None:
    # A value no newer build could have added (free text, too long, not a string) is invalid.
    wire = as_json(SAMPLES["enquiry.opened"])
    for channel in ("call me on 07700 900123", "WhatsApp", "a" * 17, 7):
        raw = orjson.dumps({**wire, "data": {**wire["data"], "channel": channel}})
        with pytest.raises(EventDecodeError) as caught:
            decode_event(raw, keep_unknown_values=True)
        assert caught.value.kind == "invalid" and not caught.value.newer_producer
        assert "07700" not in caught.value.reason
    # And an unknown value beside another fault is that fault.
    raw = orjson.dumps({**wire, "data": {**wire["data"], "channel": "whatsapp", "reference": "x"}})
    assert decode_failure(raw).kind == "invalid"


def test_rules_across_fields_let_a_newer_stage_through() -> None:
    # This build cannot order a stage it does not know; the producer that wrote it could.
    escalated = as_json(SAMPLES["complaint.escalated"])
    escalated["data"] = {**escalated["data"], "to_stage": "regulator"}
    event = decode_event(orjson.dumps(escalated), keep_unknown_values=True)
    assert event.data.to_stage == "regulator"  # type: ignore[attr-defined]
    closed = as_json(SAMPLES["complaint.closed"])
    closed["data"] = {**closed["data"], "stage": "regulator"}
    event = decode_event(orjson.dumps(closed), keep_unknown_values=True)
    assert event.data.ombudsman_decision is ComplaintOutcome.not_upheld  # type: ignore[attr-defined]


def test_producers_cannot_write_a_value_they_do_not_know() -> None:
    opened = as_json(SAMPLES["enquiry.opened"])["data"]
    with pytest.raises(ValidationError):
        EnquiryOpenedData.model_validate({**opened, "channel": "whatsapp"})
    with pytest.raises(ValueError):
        Channel("whatsapp")
    # One received from a newer producer may be passed on (sla-monitor's clock of the contact).
    kept = Channel.received("whatsapp")
    assert EnquiryOpenedData.model_validate({**opened, "channel": kept}).channel == "whatsapp"
    assert Channel.received("email") is Channel.email
    with pytest.raises(ValueError):
        Channel.received("Not A Channel")


def test_decode_invalid_names_the_fields_but_not_their_values() -> None:
    wire = as_json(SAMPLES["enquiry.opened"])
    wire["data"] = {**wire["data"], "channel": "pigeon", "service_area": "Jane Smith"}
    del wire["data"]["reference"]
    error = decode_failure(orjson.dumps(wire))
    assert error.kind == "invalid"
    assert error.reason.startswith("invalid enquiry.opened: ")
    for field in ("data.channel", "data.service_area", "data.reference"):
        assert field in error.reason
    assert "Jane Smith" not in error.reason
    assert isinstance(error, ValueError)


def test_upcasters_turn_retired_types_into_current_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not set(UPCASTERS) & set(EVENT_TYPES), "an upcaster is for a retired type only"
    wire = as_json(SAMPLES["enquiry.resolved"])
    old = {**wire, "type": "enquiry.closed", "data": {**wire["data"], "fcr": True}}
    del old["data"]["first_point"]

    def upcast(event: dict[str, Any]) -> dict[str, Any]:
        data = dict(event["data"])
        data["first_point"] = data.pop("fcr")
        return {**event, "type": "enquiry.resolved", "data": data}

    monkeypatch.setitem(UPCASTERS, "enquiry.closed", upcast)
    decoded = decode_event(orjson.dumps(old))
    assert isinstance(decoded, EnquiryResolved) and decoded.data.first_point is True


# --- no personal data -------------------------------------------------------------------------

PERSONAL_WORDS = {
    "name",
    "forename",
    "surname",
    "email",
    "phone",
    "mobile",
    "address",
    "postcode",
    "uprn",
    "notes",
    "note",
    "description",
    "summary",
    "customer",
    "caller",
    "resident",
    "complainant",
    "comment",
    "comments",
    "text",
    "message",
    "reason",
    "details",
    "birth",
    "dob",
    "location",
}
STRING_FIELDS = {
    "service_area",
    "previous_service_area",
    "reference",
    "queue",
    "agent_id",
    "assignee_id",
    "commitment",
}
"""The only str fields allowed in event data: each an id, reference or slug with a pattern."""
SAFE_LEAVES = (UUID, datetime, AwareDatetime, bool, int, float, Enum, type(None))


def leaf_types(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return leaf_types(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [leaf for arg in typing.get_args(annotation) for leaf in leaf_types(arg)]
    if origin is typing.Literal:
        return [type(value) for value in typing.get_args(annotation)]
    return [annotation]


def all_data_classes() -> list[type[EventData]]:
    return [data_class(event_class) for event_class in EVENT_TYPES.values()]


@pytest.mark.parametrize("model", all_data_classes(), ids=lambda model: model.__name__)
def test_no_personal_data_field_names(model: type[BaseModel]) -> None:
    for name in model.model_fields:
        words = set(name.split("_"))
        assert not words & PERSONAL_WORDS, f"{model.__name__}.{name} looks like personal data"


@pytest.mark.parametrize("model", all_data_classes(), ids=lambda model: model.__name__)
def test_no_free_text_fields(model: type[BaseModel]) -> None:
    for name, field in model.model_fields.items():
        for leaf in leaf_types(field.annotation):
            assert isinstance(leaf, type), f"{model.__name__}.{name}: {leaf!r}"
            if issubclass(leaf, SAFE_LEAVES):
                continue
            assert leaf is str, f"{model.__name__}.{name} is {leaf!r}"
            assert name in STRING_FIELDS, f"{model.__name__}.{name}: a str not on the allow-list"
    schema = model.model_json_schema()
    for name, prop in schema["properties"].items():
        alternatives = prop.get("anyOf", [prop])
        for alternative in alternatives:
            if alternative.get("type") == "string" and "$ref" not in alternative:
                shaped = {"pattern", "format", "enum", "const"} & set(alternative)
                assert shaped, f"{model.__name__}.{name} is an unshaped string"


@pytest.mark.parametrize("model", all_data_classes(), ids=lambda model: model.__name__)
def test_data_models_are_documented_frozen_and_tolerant(model: type[BaseModel]) -> None:
    assert model.model_config.get("frozen") is True
    assert model.model_config.get("extra") == "ignore"
    assert model.__doc__ and len(model.__doc__.strip().splitlines()) == 1
    for name, field in model.model_fields.items():
        assert field.description, f"{model.__name__}.{name} has no description"
    assert model.subject_field in model.model_fields
    assert model.time_field in model.model_fields
    assert model.subject_field.endswith("_id") and model.time_field.endswith("_at")


# --- the contract: snapshots, published docs, compatibility ----------------------------------


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def snapshot_path(event_type: str) -> Path:
    return SNAPSHOT_DIR / f"{event_type}.json"


def committed_snapshots() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in SNAPSHOT_DIR.glob("*.json")}


def test_no_event_type_disappeared() -> None:
    missing = sorted(set(committed_snapshots()) - set(EVENT_TYPES))
    assert not missing, (
        f"event types {missing} were removed; a type published once must keep decoding: "
        "keep its model, or retire it with an upcaster in registry.UPCASTERS"
    )


@pytest.mark.parametrize("event_type", list(EVENT_TYPES))
def test_no_breaking_change_against_snapshot(event_type: str) -> None:
    path = snapshot_path(event_type)
    current = export.json_schemas()[event_type]
    if not path.exists():
        if UPDATE_SNAPSHOTS:
            path.write_text(render(current), encoding="utf-8")
            return
        pytest.fail(
            f"{event_type} has no snapshot: run `UPDATE_EVENT_SNAPSHOTS=1 .tools/bin/uv run "
            "pytest libs/common/tests/test_events.py` and commit it"
        )
    problems = breaking_changes(json.loads(path.read_text()), current)
    assert not problems, (
        f"{event_type} changed incompatibly: {problems}. Make it additive, or publish a new "
        f"type (e.g. {event_type}.v2) and keep this one"
    )
    if render(current) != path.read_text():
        if UPDATE_SNAPSHOTS:
            path.write_text(render(current), encoding="utf-8")
            return
        pytest.fail(
            f"{event_type} changed compatibly; record it with `UPDATE_EVENT_SNAPSHOTS=1 "
            ".tools/bin/uv run pytest libs/common/tests/test_events.py` and commit the snapshot"
        )


def test_published_docs_match_the_models() -> None:
    expected = export.rendered_files()
    on_disk = {
        str(path.relative_to(DOCS_DIR)): path.read_text(encoding="utf-8")
        for path in DOCS_DIR.rglob("*.json")
    }
    stale = sorted(
        name for name in set(expected) | set(on_disk) if expected.get(name) != on_disk.get(name)
    )
    assert not stale, (
        f"docs/events is out of date ({stale}); regenerate with "
        "`.tools/bin/uv run python -m contact_common.events.export docs/events`"
    )


def test_asyncapi_document_names_every_type_under_its_topic() -> None:
    document = export.asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] == "Council contact platform events"
    channels = document["channels"]
    for topic in (CONTACT_EVENTS, SLA_EVENTS):
        assert channels[topic]["address"] == topic
        assert channels[dead_letter_topic(topic)]["address"] == dead_letter_topic(topic)
    for event_type in EVENT_TYPES:
        topic = topic_for(event_type)
        assert event_type in channels[topic]["messages"]
        message = document["components"]["messages"][event_type]
        assert message["contentType"] == "application/cloudevents+json"
        headers = message["headers"]["$ref"].rsplit("/", 1)[1]
        content_type = document["components"]["schemas"][headers]["properties"]["content-type"]
        assert content_type["const"] == "application/cloudevents+json; charset=UTF-8"
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        schema_name = message["payload"]["$ref"].rsplit("/", 1)[1]
        assert schema_name in document["components"]["schemas"]
    other = {CONTACT_EVENTS: SLA_EVENTS, SLA_EVENTS: CONTACT_EVENTS}
    for event_type in EVENT_TYPES:
        assert event_type not in channels[other[topic_for(event_type)]]["messages"]


def test_asyncapi_references_resolve() -> None:
    document = export.asyncapi_document()

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return found + [ref for value in node.values() for ref in refs(value)]
        if isinstance(node, list):
            return [ref for value in node for ref in refs(value)]
        return []

    for ref in refs(document):
        assert ref.startswith("#/")
        target: Any = document
        for token in ref[2:].split("/"):
            target = target[token]
    operations = document["operations"]
    actions = {
        (op["action"], op["channel"]["$ref"].rsplit("/", 1)[1]) for op in operations.values()
    }
    assert ("send", CONTACT_EVENTS) in actions and ("send", SLA_EVENTS) in actions
    assert ("receive", CONTACT_EVENTS) in actions and ("receive", SLA_EVENTS) in actions


def test_standalone_schemas_validate_the_samples() -> None:
    import jsonschema

    schemas = export.json_schemas()
    problems = {
        event_type: [
            error.message
            for error in jsonschema.Draft202012Validator(schemas[event_type]).iter_errors(
                orjson.loads(encode_event(event))
            )
        ]
        for event_type, event in SAMPLES.items()
    }
    assert set(problems) == set(EVENT_TYPES)
    assert not any(problems.values()), problems


# --- breaking_changes itself ------------------------------------------------------------------

BASE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "channel": {"$ref": "#/$defs/Channel"},
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
        "note_id": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
    },
    "required": ["id", "channel"],
    "$defs": {"Channel": {"type": "string", "enum": ["phone", "email"], "x-extensible": True}},
}


def changed(**edits: Any) -> dict[str, Any]:
    schema = json.loads(json.dumps(BASE))
    for key, value in edits.items():
        schema[key] = value
    return schema


def with_property(name: str, value: Any) -> dict[str, Any]:
    schema = changed()
    if value is None:
        del schema["properties"][name]
    else:
        schema["properties"][name] = value
    return schema


def test_identical_schema_is_compatible() -> None:
    assert breaking_changes(BASE, changed()) == []


def test_removed_property_is_breaking() -> None:
    assert breaking_changes(BASE, with_property("score", None)) == ["$: property 'score' removed"]


def test_newly_required_is_breaking() -> None:
    problems = breaking_changes(BASE, changed(required=["id", "channel", "score"]))
    assert problems == ["$: property 'score' newly required"]
    added = with_property("queue", {"type": "string"})
    added["required"] = ["id", "channel", "queue"]
    assert breaking_changes(BASE, added) == ["$: property 'queue' newly required"]


def test_type_changed_is_breaking() -> None:
    problems = breaking_changes(BASE, with_property("score", {"type": "string"}))
    assert problems == ["$.score: type changed from ['integer'] to ['string']"]


def test_narrowings_are_breaking() -> None:
    narrower = with_property("score", {"type": "integer", "minimum": 1, "maximum": 4})
    assert breaking_changes(BASE, narrower) == ["$.score: maximum lowered to 4"]
    not_nullable = with_property("note_id", {"type": "string"})
    assert breaking_changes(BASE, not_nullable) == [
        "$.note_id: type changed from ['null'] to ['string']"
    ]
    fewer = changed()
    fewer["$defs"]["Channel"]["enum"] = ["phone"]
    assert breaking_changes(BASE, fewer) == [
        "$.channel: enum values removed: ['email'] no longer accepted"
    ]
    const = changed()
    const["$defs"]["Channel"] = {"type": "string", "const": "email"}
    assert breaking_changes(BASE, const) == [
        "$.channel: const changed: ['phone'] no longer accepted"
    ]
    patterned = with_property("id", {"type": "string", "format": "uuid", "pattern": "^[a-f]+$"})
    assert breaking_changes(BASE, patterned) == ["$.id: pattern changed from None to '^[a-f]+$'"]


def test_additive_changes_are_not_breaking() -> None:
    optional = with_property("queue", {"anyOf": [{"type": "string"}, {"type": "null"}]})
    assert breaking_changes(BASE, optional) == []
    more = changed()
    more["$defs"]["Channel"]["enum"] = ["phone", "email", "chat"]
    assert breaking_changes(BASE, more) == []
    wider = with_property("score", {"type": "number", "minimum": 0})
    assert breaking_changes(BASE, wider) == []
    relaxed = changed(required=["id"])
    assert breaking_changes(BASE, relaxed) == []
    described = with_property("id", {"type": "string", "format": "uuid", "description": "x"})
    assert breaking_changes(BASE, described) == []


def test_added_values_consumers_would_refuse_are_breaking() -> None:
    closed = changed()
    closed["$defs"]["Channel"] = {"type": "string", "enum": ["phone", "email", "chat"]}
    assert breaking_changes(BASE, closed) == [
        "$.channel: values added that consumers not yet upgraded would refuse: ['chat']"
    ]
    unshaped = changed()
    unshaped["$defs"]["Channel"]["enum"] = ["phone", "email", "Web Chat", "a" * 17]
    assert breaking_changes(BASE, unshaped) == [
        "$.channel: values added that consumers not yet upgraded would refuse: "
        f"['Web Chat', '{'a' * 17}']"
    ]
    literal = with_property("kind", {"const": "call"})
    widened = with_property("kind", {"enum": ["call", "visit"]})
    assert breaking_changes(literal, widened) == [
        "$.kind: values added that consumers not yet upgraded would refuse: ['visit']"
    ]


def test_every_vocabulary_is_published_extensible() -> None:
    # The compatibility check and outside consumers learn from the mark that the list may grow.
    schema = export.json_schemas()["complaint.closed"]["$defs"]
    for name in ("Channel", "ComplaintStage", "ComplaintOutcome"):
        assert schema[name]["x-extensible"] is True


def test_every_current_schema_is_compatible_with_itself() -> None:
    for schema in export.json_schemas().values():
        assert breaking_changes(schema, schema) == []


def test_a_real_data_change_is_caught_through_refs() -> None:
    old = export.json_schemas()["enquiry.resolved"]
    new = json.loads(json.dumps(old))
    del new["$defs"]["EnquiryResolvedData"]["properties"]["first_point"]
    new["$defs"]["Channel"]["enum"].remove("standby")
    problems = breaking_changes(old, new)
    assert "$.data: property 'first_point' removed" in problems
    assert any(p.startswith("$.data.channel: enum values removed") for p in problems)
