"""Every event type, how to encode and decode one, and which topic it goes to.

Evolving an event type:
- An additive change (a new optional field, a new value of a vocabulary) keeps the type. The
  check is backward compatibility: every event valid under the old schema is valid under the
  new one, so a consumer upgraded first reads everything already in the log. Consumers are
  tolerant readers too, so a producer may be upgraded first: data models ignore fields they
  do not know, and a consumer keeps a vocabulary value it does not know (a new channel) as an
  unrecognised member, counted, rather than dead-lettering the event (`keep_unknown_values`;
  the consumer loop counts, logs and skips event types it does not know). That tolerance is
  what lets the compatibility check call a new value of a vocabulary (a schema marked
  `x-extensible`, shaped as `UNKNOWN_VALUE`) additive; a value added anywhere else, such as a
  literal, would be dead-lettered by older consumers, and the check calls it breaking.
- A breaking change (a field removed, renamed, newly required, or a type narrowed) is a new type,
  e.g. `enquiry.opened.v2`, with its own model. Once producers no longer write the old type, retire
  its model and register an upcaster here, `UPCASTERS["enquiry.opened"]`, a function from the old
  event (a dict, as parsed) to the new one, so events still in the log keep decoding.
The contract test in libs/common/tests/test_events.py snapshots every type's JSON Schema and
fails on a breaking change.
"""

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final, get_args

import orjson
from pydantic import Field, TypeAdapter, ValidationError

from contact_common.bus.topics import CONTACT_EVENTS, SLA_EVENTS
from contact_common.events.call import CallAbandoned, CallAnswered, CallOffered
from contact_common.events.common import UNKNOWN_VALUE, keeping_unknown_values
from contact_common.events.complaint import (
    ComplaintAcknowledged,
    ComplaintClosed,
    ComplaintCorrected,
    ComplaintEscalated,
    ComplaintExtended,
    ComplaintReceived,
    ComplaintResponded,
    ComplaintVoided,
)
from contact_common.events.enquiry import (
    EnquiryAcknowledged,
    EnquiryAssigned,
    EnquiryCorrected,
    EnquiryOpened,
    EnquiryReopened,
    EnquiryResolved,
    EnquiryResponded,
    EnquiryUpdateReceived,
    EnquiryVoided,
)
from contact_common.events.envelope import CloudEvent
from contact_common.events.feedback import FeedbackSubmitted
from contact_common.events.sla import SlaAtRisk, SlaBreached, SlaMet, SlaStopped, SlaWithdrawn
from contact_common.events.visit import VisitArrived, VisitAttended

Event = Annotated[
    EnquiryOpened
    | EnquiryAcknowledged
    | EnquiryAssigned
    | EnquiryResponded
    | EnquiryResolved
    | EnquiryReopened
    | EnquiryUpdateReceived
    | EnquiryCorrected
    | EnquiryVoided
    | CallOffered
    | CallAnswered
    | CallAbandoned
    | VisitArrived
    | VisitAttended
    | FeedbackSubmitted
    | ComplaintReceived
    | ComplaintAcknowledged
    | ComplaintExtended
    | ComplaintResponded
    | ComplaintEscalated
    | ComplaintClosed
    | ComplaintCorrected
    | ComplaintVoided
    | SlaAtRisk
    | SlaBreached
    | SlaMet
    | SlaStopped
    | SlaWithdrawn,
    Field(discriminator="type"),
]
"""Any event on the bus, told apart by its `type`."""

event_adapter: TypeAdapter[Event] = TypeAdapter(Event)

EVENT_TYPES: Final[dict[str, type[CloudEvent]]] = {
    cls.model_fields["type"].default: cls for cls in get_args(get_args(Event)[0])
}
"""Event type name -> its envelope class, in the order above."""

TOPIC_OF_TYPE: Final[dict[str, str]] = {
    name: SLA_EVENTS if name.startswith("sla.") else CONTACT_EVENTS for name in EVENT_TYPES
}
"""Event type name -> the Kafka topic it is published to."""

UPCASTERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
"""Retired event type -> a function turning such an event (as parsed JSON) into a current one."""

_MAX_UPCASTS = 10
_MAX_ERRORS_SHOWN = 5


class EventDecodeError(ValueError):
    """Raw bytes that are not a valid event; `reason` says why, for the dead-letter record."""

    def __init__(self, kind: str, reason: str, *, event_type: str | None = None) -> None:
        super().__init__(reason)
        self.kind = kind
        """not_json, not_object, missing_type, not_cloudevent, unsupported or invalid: not an
        event this build could ever read; unknown_type or unknown_value: an event of a newer
        producer (see `newer_producer`)."""
        self.reason = reason
        self.event_type = event_type
        """The event's type, where it has one."""

    @property
    def newer_producer(self) -> bool:
        """True for an event a newer build wrote (a type or vocabulary value this one does not
        know): a consumer counts and tolerates it, never dead-letters it."""
        return self.kind in ("unknown_type", "unknown_value")


def encode_event(event: CloudEvent) -> bytes:
    """The event as CloudEvents structured-mode JSON bytes."""
    # model_dump_json's bytes without its round trip through str: byte for byte what
    # orjson.dumps(event.model_dump(mode="json")) wrote (tested for every type), 1.4x as fast.
    return event.__pydantic_serializer__.to_json(event)


def decode_event(raw: bytes | str, *, keep_unknown_values: bool = False) -> CloudEvent:
    """Parse and validate one event; raise EventDecodeError with a reason if it cannot be.

    An event whose only fault is a vocabulary value this build does not know (kind
    unknown_value) is refused unless `keep_unknown_values`; then it is returned with that value
    as an unrecognised member (`Vocabulary.recognised` is False).
    """
    try:
        return event_adapter.validate_json(raw)
    except ValidationError:
        pass
    # The slow path: only for what the fast path refused, to say why or to upcast.
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise EventDecodeError("not_json", f"not JSON: {exc}") from None
    return decode_event_object(parsed, keep_unknown_values=keep_unknown_values)


def decode_event_object(parsed: Any, *, keep_unknown_values: bool = False) -> CloudEvent:
    """`decode_event` of JSON already parsed (a binary-mode message's attributes and data)."""
    if not isinstance(parsed, dict):
        raise EventDecodeError("not_object", f"not a JSON object but {type(parsed).__name__}")
    event_type = parsed.get("type")
    if not isinstance(event_type, str):
        raise EventDecodeError("missing_type", "missing type: no string 'type' attribute")
    for _ in range(_MAX_UPCASTS):
        upcast = UPCASTERS.get(event_type)
        if upcast is None:
            break
        parsed = upcast(parsed)
        event_type = str(parsed.get("type"))
    event_class = EVENT_TYPES.get(event_type)
    if event_class is None:
        _check_envelope(parsed, event_type)
        raise EventDecodeError(
            "unknown_type", f"unknown event type {event_type[:100]!r}", event_type=event_type[:100]
        )
    try:
        return event_class.model_validate(parsed)
    except ValidationError as exc:
        unknown = _unknown_values(exc)
        if unknown is None:
            reason = f"invalid {event_type}: {_summarise(exc)}"
            raise EventDecodeError("invalid", reason, event_type=event_type) from None
        if not keep_unknown_values:
            reason = f"{event_type} carries values this build does not know: {unknown}"
            raise EventDecodeError("unknown_value", reason, event_type=event_type) from None
    try:
        with keeping_unknown_values():
            return event_class.model_validate(parsed)
    except ValidationError as exc:
        reason = f"invalid {event_type}: {_summarise(exc)}"
        raise EventDecodeError("invalid", reason, event_type=event_type) from None


def _check_envelope(parsed: Mapping[str, Any], event_type: str) -> None:
    # An unknown type is tolerated only in a CloudEvent: what lacks the envelope is not an event.
    missing = [
        name
        for name in ("id", "source")
        if not isinstance(parsed.get(name), str) or not parsed[name]
    ]
    if parsed.get("specversion") != "1.0":
        missing.insert(0, "specversion 1.0")
    if missing:
        raise EventDecodeError(
            "not_cloudevent",
            f"not a CloudEvent: {event_type[:100]!r} without {', '.join(missing)}",
        )


def _unknown_values(exc: ValidationError) -> str | None:
    """Where the error is only vocabulary values this build does not know: those, by field;
    None if anything else is wrong."""
    errors = exc.errors(include_url=False, include_context=False)
    found = []
    for error in errors:
        value = error.get("input")
        if error["type"] != "enum" or not isinstance(value, str):
            return None
        if not UNKNOWN_VALUE.fullmatch(value):
            return None
        found.append(f"{'.'.join(str(part) for part in error['loc'])} {value!r}")
    return ", ".join(found) or None


def _summarise(exc: ValidationError) -> str:
    # Messages only, never the input values: a dead-letter reason must not copy personal data.
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    parts = [
        f"{'.'.join(str(part) for part in error['loc']) or '(event)'}: {error['msg']}"
        for error in errors[:_MAX_ERRORS_SHOWN]
    ]
    if len(errors) > _MAX_ERRORS_SHOWN:
        parts.append(f"and {len(errors) - _MAX_ERRORS_SHOWN} more")
    return "; ".join(parts)


def topic_for(event: CloudEvent | str) -> str:
    """The topic an event (or an event type name) is published to."""
    event_type = event if isinstance(event, str) else event.type
    try:
        return TOPIC_OF_TYPE[event_type]
    except KeyError:
        raise ValueError(f"unknown event type {event_type!r}") from None
