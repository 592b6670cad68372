"""The CloudEvents Kafka binding as pure functions: what the platform writes is structured mode
by the binding's rule, both modes read back into the same event, extensions survive either, and
the CloudEvents SDK (cloudevents on PyPI, `cloudevents.core.bindings.kafka`) agrees both ways.
The broker-level checks are in test_outbox_relay.py (the relay's messages, read with the SDK)
and test_consumer.py (the SDK's binary-mode messages, read by the consumer loop)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from cloudevents.core.bindings import kafka as sdk_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as SdkEvent

from contact_common.bus.binding import (
    STRUCTURED_CONTENT_TYPE,
    KafkaMessage,
    content_mode,
    from_message,
    structured_message,
    to_message,
)
from contact_common.events import (
    Channel,
    CloudEvent,
    ComplaintReceived,
    ComplaintReceivedData,
    ComplaintStage,
    EventDecodeError,
    encode_event,
)

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def complaint(channel: str = "email") -> ComplaintReceived:
    complaint_id = uuid.uuid4()
    received_at = datetime(2026, 5, 6, 9, 30, 15, 250000, tzinfo=UTC)
    return ComplaintReceived.from_data(
        ComplaintReceivedData(
            complaint_id=complaint_id,
            channel=Channel(channel),
            service_area="waste",
            received_at=received_at,
            reference="CMP-2026-000045",
            stage=ComplaintStage.stage_1,
        ),
        source="/complaints-api",
    )


def headers_of(message: KafkaMessage) -> dict[str, bytes]:
    return dict(message.headers)


def sdk_message(message: KafkaMessage) -> sdk_kafka.KafkaMessage:
    return sdk_kafka.KafkaMessage(
        headers=dict(message.headers), key=message.key, value=message.value
    )


def ours(message: sdk_kafka.KafkaMessage) -> KafkaMessage:
    key = message.key.encode() if isinstance(message.key, str) else message.key
    return KafkaMessage(key=key, value=message.value, headers=list(message.headers.items()))


# -- what the platform writes --------------------------------------------------------------------


def test_a_message_is_structured_mode_keyed_by_the_contact() -> None:
    event = complaint()
    message = to_message(event)
    assert headers_of(message) == {"content-type": b"application/cloudevents+json; charset=UTF-8"}
    # The binding's rule: structured mode if and only if content-type starts so.
    assert headers_of(message)["content-type"].startswith(b"application/cloudevents")
    assert message.key == event.subject.encode() == str(event.data.complaint_id).encode()
    assert message.value == encode_event(event)  # the bytes the outbox stores, unchanged
    assert structured_message(event.subject, encode_event(event)) == message
    assert content_mode(message.headers) == "structured"


def test_structured_mode_reads_back() -> None:
    event = complaint()
    assert from_message(to_message(event)) == event


def test_binary_mode_writes_attributes_as_headers_and_the_data_as_the_value() -> None:
    event = complaint()
    message = to_message(event, mode="binary")
    headers = headers_of(message)
    assert headers["content-type"] == b"application/json"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"complaint.received"
    assert headers["ce_id"] == str(event.id).encode()
    assert headers["ce_source"] == b"/complaints-api"
    assert headers["ce_subject"] == event.subject.encode()
    assert headers["ce_time"] == b"2026-05-06T09:30:15.250000Z"
    assert orjson.loads(message.value) == orjson.loads(encode_event(event))["data"]
    assert content_mode(message.headers) == "binary"
    assert from_message(message) == event


@pytest.mark.parametrize("mode", ["structured", "binary"])
def test_an_extension_attribute_survives_a_round_trip(mode: Any) -> None:
    event = complaint().with_extensions(traceparent=TRACEPARENT)
    message = to_message(event, mode=mode)
    if mode == "binary":
        assert headers_of(message)["ce_traceparent"] == TRACEPARENT.encode()
    else:
        assert orjson.loads(message.value)["traceparent"] == TRACEPARENT
    decoded = from_message(message)
    assert decoded == event
    assert decoded.extensions == {"traceparent": TRACEPARENT}


def test_binary_mode_header_names_and_json_media_types_are_read_loosely() -> None:
    event = complaint()
    message = to_message(event, mode="binary")
    shouted = [
        (name.upper() if name.startswith("ce_") else name, value)
        for name, value in message.headers
        if name != "content-type"
    ] + [("Content-Type", b"application/json; charset=utf-8")]
    assert from_message(KafkaMessage(message.key, message.value, shouted)) == event


def test_a_message_with_no_content_type_is_the_platform_s_structured_json_of_before() -> None:
    event = complaint()
    legacy = KafkaMessage(key=event.partition_key, value=encode_event(event), headers=[])
    assert content_mode(legacy.headers) == "structured"
    assert from_message(legacy) == event


def test_what_cannot_be_read_says_why() -> None:
    event = complaint()
    binary = to_message(event, mode="binary")
    cases = [
        (
            KafkaMessage(
                None, encode_event(event), [("content-type", b"application/cloudevents+avro")]
            ),
            "unsupported",
        ),
        (
            KafkaMessage(
                None, b"<xml/>", [*binary.headers[1:], ("content-type", b"application/xml")]
            ),
            "unsupported",
        ),
        (KafkaMessage(None, b"{not json", binary.headers), "not_json"),
        (
            KafkaMessage(None, binary.value, [h for h in binary.headers if h[0] != "ce_id"]),
            "not_cloudevent",
        ),
        (
            KafkaMessage(
                None,
                binary.value,
                [
                    (name, b"complaint.reopened.v9" if name == "ce_type" else value)
                    for name, value in binary.headers
                ],
            ),
            "unknown_type",
        ),
    ]
    for message, kind in cases:
        with pytest.raises(EventDecodeError) as caught:
            from_message(message)
        assert caught.value.kind == kind, caught.value.reason


def test_binary_mode_keeps_unknown_values_when_asked() -> None:
    message = to_message(complaint(), mode="binary")
    newer = KafkaMessage(
        message.key, message.value.replace(b'"email"', b'"whatsapp"'), message.headers
    )
    with pytest.raises(EventDecodeError) as caught:
        from_message(newer)
    assert caught.value.kind == "unknown_value"
    event = from_message(newer, keep_unknown_values=True)
    assert event.data.channel == "whatsapp" and not event.data.channel.recognised  # type: ignore[attr-defined]


# -- the CloudEvents SDK agrees --------------------------------------------------------------------


def test_the_sdk_reads_our_structured_mode() -> None:
    event = complaint().with_extensions(traceparent=TRACEPARENT)
    read = sdk_kafka.from_structured(sdk_message(to_message(event)), JSONFormat())
    assert_sdk_event_is(read, event)


def test_the_sdk_reads_our_binary_mode() -> None:
    event = complaint().with_extensions(traceparent=TRACEPARENT)
    read = sdk_kafka.from_binary(sdk_message(to_message(event, mode="binary")), JSONFormat())
    assert_sdk_event_is(read, event)


def test_we_read_the_sdk_s_binary_and_structured_modes() -> None:
    event = complaint()
    sdk_event = SdkEvent(
        attributes={
            "id": str(event.id),
            "source": event.source,
            "type": event.type,
            "subject": event.subject,
            "time": event.time,
            "datacontenttype": "application/json",
            "traceparent": TRACEPARENT,
        },
        data=orjson.loads(encode_event(event))["data"],
    )
    for convert in (sdk_kafka.to_binary, sdk_kafka.to_structured):
        message = convert(sdk_event, JSONFormat(), key_mapper=lambda e: e.get_subject())
        decoded = from_message(ours(message))
        assert decoded == event.with_extensions(traceparent=TRACEPARENT), convert.__name__


def assert_sdk_event_is(read: Any, event: CloudEvent) -> None:
    assert read.get_specversion() == "1.0"
    assert read.get_id() == str(event.id)
    assert read.get_type() == event.type
    assert read.get_source() == event.source
    assert read.get_subject() == event.subject
    assert read.get_time() == event.time
    assert read.get_datacontenttype() == "application/json"
    assert read.get_extension("traceparent") == TRACEPARENT
    assert read.get_data() == orjson.loads(encode_event(event))["data"]


def test_structured_content_type_is_the_binding_s() -> None:
    # The binding's structured-mode media type (the SDK's JSON format names it too).
    assert STRUCTURED_CONTENT_TYPE.split(";")[0] == JSONFormat.CONTENT_TYPE
