"""The CloudEvents Kafka protocol binding: an event to a Kafka message and back, pure functions.

The platform writes structured mode: the value is the event as CloudEvents JSON (what
`encode_event` writes, what the outbox stores) and the header `content-type` says so, since a
receiver following the binding takes a message as binary mode unless `content-type` starts with
`application/cloudevents`. The key is the contact's id.

A consumer reads both modes into the same `CloudEvent`:
- structured: `content-type` starts with `application/cloudevents`; the value is the event;
- binary: the attributes are `ce_<name>` headers, the value is the data, and `content-type` is
  the data's media type (JSON, as every event's data is JSON);
- a message with neither is one the platform wrote before it set the header, structured JSON.
Extension attributes (`traceparent`) go both ways in either mode.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

import orjson

from contact_common.events import CloudEvent, EventDecodeError, encode_event
from contact_common.events.registry import decode_event, decode_event_object

CONTENT_TYPE: Final = "content-type"
STRUCTURED_CONTENT_TYPE: Final = "application/cloudevents+json; charset=UTF-8"
"""The `content-type` of a structured-mode message: the CloudEvents JSON format, in UTF-8."""
STRUCTURED_HEADERS: Final[tuple[tuple[str, bytes], ...]] = (
    (CONTENT_TYPE, STRUCTURED_CONTENT_TYPE.encode()),
)
"""The headers of every message the platform writes, for a sender holding encoded events."""
BINARY_PREFIX: Final = "ce_"
DATA_CONTENT_TYPE: Final = "application/json"
_REQUIRED: Final = ("specversion", "id", "source", "type")

ContentMode = Literal["structured", "binary"]
Headers = Sequence[tuple[str, bytes]]


class Message(Protocol):
    """What the binding reads of a Kafka message (an aiokafka `ConsumerRecord` is one)."""

    @property
    def key(self) -> bytes | None: ...

    @property
    def value(self) -> bytes | None: ...

    @property
    def headers(self) -> Headers: ...


@dataclass(frozen=True, slots=True)
class KafkaMessage:
    """A Kafka message as the binding writes it: hand its parts to the producer."""

    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    """A list, as aiokafka's record builder takes only that."""


def structured_message(key: str | bytes, payload: bytes) -> KafkaMessage:
    """The structured-mode message of an event already encoded (an outbox row's payload)."""
    return KafkaMessage(
        key=key.encode() if isinstance(key, str) else key,
        value=payload,
        headers=list(STRUCTURED_HEADERS),
    )


def to_message(event: CloudEvent, *, mode: ContentMode = "structured") -> KafkaMessage:
    """The event as a Kafka message keyed by its contact; structured mode unless told."""
    if mode == "structured":
        return structured_message(event.partition_key, encode_event(event))
    attributes = orjson.loads(encode_event(event))
    data = attributes.pop("data")
    media_type = attributes.pop("datacontenttype", DATA_CONTENT_TYPE)
    headers = [(CONTENT_TYPE, media_type.encode())]
    headers += [
        (f"{BINARY_PREFIX}{name}", _header_value(name, value))
        for name, value in attributes.items()
        if value is not None
    ]
    return KafkaMessage(key=event.partition_key, value=orjson.dumps(data), headers=headers)


def content_mode(headers: Headers) -> ContentMode:
    """The mode a message is in, by the binding's rule (and the platform's legacy messages)."""
    content_type = _header(headers, CONTENT_TYPE)
    if content_type is None:
        binary = any(name.lower() == f"{BINARY_PREFIX}specversion" for name, _ in headers)
        return "binary" if binary else "structured"  # no header: written before the binding
    return (
        "structured"
        if _media_type(content_type).startswith("application/cloudevents")
        else "binary"
    )


def from_message(message: Message, *, keep_unknown_values: bool = False) -> CloudEvent:
    """The event a message carries, in either content mode; EventDecodeError if none.

    `keep_unknown_values` as for `decode_event`: a consumer's second reading of an event that
    carries vocabulary values this build does not know.
    """
    headers = message.headers or ()
    if content_mode(headers) == "structured":
        content_type = _header(headers, CONTENT_TYPE)
        if content_type is not None and _media_type(content_type) != "application/cloudevents+json":
            raise EventDecodeError(
                "unsupported", f"unsupported structured content type {content_type[:100]!r}"
            )
        return decode_event(message.value or b"", keep_unknown_values=keep_unknown_values)
    return decode_event_object(
        _binary_attributes(headers, message.value), keep_unknown_values=keep_unknown_values
    )


def _binary_attributes(headers: Headers, value: bytes | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for name, raw in headers:
        lowered = name.lower()
        if not lowered.startswith(BINARY_PREFIX):
            continue
        try:
            attributes[lowered.removeprefix(BINARY_PREFIX)] = raw.decode()
        except UnicodeDecodeError:
            raise EventDecodeError("not_cloudevent", f"header {name[:40]!r} is not UTF-8") from None
    missing = [name for name in _REQUIRED if name not in attributes]
    if missing:
        raise EventDecodeError(
            "not_cloudevent", f"binary mode without {', '.join(BINARY_PREFIX + n for n in missing)}"
        )
    media_type = _media_type(_header(headers, CONTENT_TYPE) or DATA_CONTENT_TYPE)
    if not _is_json(media_type):
        raise EventDecodeError("unsupported", f"unsupported data content type {media_type[:100]!r}")
    # The envelope names the media type alone: JSON is UTF-8 whatever a charset says.
    attributes["datacontenttype"] = DATA_CONTENT_TYPE
    try:
        attributes["data"] = orjson.loads(value or b"")
    except orjson.JSONDecodeError as exc:
        raise EventDecodeError("not_json", f"data not JSON: {exc}") from None
    return attributes


def _header_value(name: str, value: Any) -> bytes:
    # Binary mode carries every attribute as a string (the binding's rule for Kafka headers).
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, str | int):
        return str(value).encode()
    raise ValueError(f"attribute {name!r} cannot be a Kafka header: {type(value).__name__}")


def _header(headers: Iterable[tuple[str, bytes]], wanted: str) -> str | None:
    for name, value in headers:
        if name.lower() == wanted:
            return value.decode("utf-8", errors="replace")
    return None


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _is_json(media_type: str) -> bool:
    return media_type in ("application/json", "text/json") or media_type.endswith("+json")
