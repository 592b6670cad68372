"""Every event type, how to encode and decode one, and which topic it goes to.

Evolving an event type:
- An additive change (a new optional field, a new enum value) keeps the type. The check is
  backward compatibility: every event valid under the old schema is valid under the new one, so
  a consumer upgraded first reads everything already in the log. Data models refuse unknown
  fields, so deploy consumers before the producers that start writing the new field.
- A breaking change (a field removed, renamed, newly required, or a type narrowed) is a new type,
  e.g. `enquiry.opened.v2`, with its own model. Once producers no longer write the old type, retire
  its model and register an upcaster here, `UPCASTERS["enquiry.opened"]`, a function from the old
  event (a dict, as parsed) to the new one, so events still in the log keep decoding.
The contract test in libs/common/tests/test_events.py snapshots every type's JSON Schema and
fails on a breaking change.
"""

from collections.abc import Callable
from typing import Annotated, Any, Final, get_args

import orjson
from pydantic import Field, TypeAdapter, ValidationError

from contact_common.bus.topics import CONTACT_EVENTS, SLA_EVENTS
from contact_common.events.call import CallAbandoned, CallAnswered, CallOffered
from contact_common.events.complaint import (
    ComplaintAcknowledged,
    ComplaintClosed,
    ComplaintEscalated,
    ComplaintExtended,
    ComplaintReceived,
    ComplaintResponded,
)
from contact_common.events.enquiry import (
    EnquiryAcknowledged,
    EnquiryAssigned,
    EnquiryOpened,
    EnquiryReopened,
    EnquiryResolved,
    EnquiryResponded,
    EnquiryUpdateReceived,
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

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        """One of not_json, not_object, missing_type, unknown_type, invalid."""
        self.reason = reason


def encode_event(event: CloudEvent) -> bytes:
    """The event as CloudEvents structured-mode JSON bytes."""
    # model_dump_json's bytes without its round trip through str: byte for byte what
    # orjson.dumps(event.model_dump(mode="json")) wrote (tested for every type), 1.4x as fast.
    return event.__pydantic_serializer__.to_json(event)


def decode_event(raw: bytes | str) -> CloudEvent:
    """Parse and validate one event; raise EventDecodeError with a reason if it cannot be."""
    try:
        return event_adapter.validate_json(raw)
    except ValidationError:
        pass
    # The slow path: only for what the fast path refused, to say why or to upcast.
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise EventDecodeError("not_json", f"not JSON: {exc}") from None
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
        raise EventDecodeError("unknown_type", f"unknown event type {event_type[:100]!r}")
    try:
        return event_class.model_validate(parsed)
    except ValidationError as exc:
        raise EventDecodeError("invalid", f"invalid {event_type}: {_summarise(exc)}") from None


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
