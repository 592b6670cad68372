"""Write the published event contracts: one JSON Schema per type and an AsyncAPI 3.0 document.

Run `python -m contact_common.events.export [OUTDIR]` (default docs/events) after changing an
event; the files are generated, never edited by hand, and a test fails when they drift.
"""

import json
import sys
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from contact_common.bus.binding import CONTENT_TYPE as CONTENT_TYPE_HEADER
from contact_common.bus.binding import STRUCTURED_CONTENT_TYPE
from contact_common.bus.topics import CONTACT_EVENTS, SLA_EVENTS, dead_letter_topic
from contact_common.events.registry import EVENT_TYPES, TOPIC_OF_TYPE

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
CONTENT_TYPE = "application/cloudevents+json"
KAFKA_BINDING_VERSION = "0.5.0"
DEFAULT_OUTDIR = Path("docs/events")

_PRODUCER_OF_AGGREGATE = {
    "enquiry": "enquiry-api",
    "call": "enquiry-api",
    "visit": "enquiry-api",
    "feedback": "enquiry-api",
    "complaint": "complaints-api",
    "sla": "sla-monitor",
}
_CONSUMERS_OF_TOPIC = {
    CONTACT_EVENTS: ("sla-monitor", "metrics-api"),
    SLA_EVENTS: ("metrics-api",),
}
_HEADERS_SCHEMA = "StructuredModeHeaders"
_HEADERS = {
    "type": "object",
    "description": "Kafka headers, per the CloudEvents Kafka protocol binding (structured mode).",
    "properties": {
        CONTENT_TYPE_HEADER: {
            "type": "string",
            "const": STRUCTURED_CONTENT_TYPE,
            "description": "Says the message is a CloudEvent in structured mode: the value is the "
            "whole event as CloudEvents JSON. Consumers also read binary mode (the attributes as "
            "ce_ headers, the data as the value, content-type the data's media type); messages "
            "written before the header was set carry none and are structured JSON.",
        },
    },
    "required": [CONTENT_TYPE_HEADER],
}
_TOPIC_DESCRIPTIONS = {
    CONTACT_EVENTS: "Every contact's life: enquiries, calls, visits, feedback and complaints.",
    SLA_EVENTS: "SLA clocks per (contact, commitment): at risk, breached, met.",
}


def json_schemas() -> dict[str, dict[str, Any]]:
    """Event type -> the JSON Schema (2020-12) of its whole CloudEvent, standalone."""
    return {
        name: {"$schema": JSON_SCHEMA_DIALECT, **event_class.model_json_schema(mode="validation")}
        for name, event_class in EVENT_TYPES.items()
    }


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document for the event topics and their dead-letter topics."""
    refs, top = models_json_schema(
        [(event_class, "validation") for event_class in EVENT_TYPES.values()],
        ref_template="#/components/schemas/{model}",
    )
    messages = {
        name: {
            "name": name,
            "title": event_class.__name__,
            "summary": _summary(event_class),
            "contentType": CONTENT_TYPE,
            "headers": {"$ref": f"#/components/schemas/{_HEADERS_SCHEMA}"},
            "payload": refs[(event_class, "validation")],
            "bindings": {
                "kafka": {
                    "key": {
                        "type": "string",
                        "format": "uuid",
                        "description": "The contact's id: the CloudEvent subject.",
                    },
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        for name, event_class in EVENT_TYPES.items()
    }

    channels: dict[str, Any] = {}
    for topic in (CONTACT_EVENTS, SLA_EVENTS):
        types = _types_on(topic)
        channels[topic] = _channel(topic, _TOPIC_DESCRIPTIONS[topic], types)
        dead_letters = dead_letter_topic(topic)
        channels[dead_letters] = _channel(
            dead_letters,
            f"What consumers of {topic} could not decode or handle, copied unchanged with the "
            "reason; the payload may not match the schema.",
            types,
        )

    operations: dict[str, Any] = {}
    for producer in dict.fromkeys(_PRODUCER_OF_AGGREGATE.values()):
        types = [name for name in EVENT_TYPES if _producer(name) == producer]
        topic = TOPIC_OF_TYPE[types[0]]
        operations[f"{_camel(producer)}Publishes"] = _operation(
            "send", topic, types, f"{producer} publishes through its outbox."
        )
    for topic, consumers in _CONSUMERS_OF_TOPIC.items():
        types = _types_on(topic)
        for consumer in consumers:
            operations[f"{_camel(consumer)}Consumes{_pascal(topic)}"] = _operation(
                "receive", topic, types, f"{consumer} consumes {topic}."
            )
            operations[f"{_camel(consumer)}DeadLetters{_pascal(topic)}"] = _operation(
                "send",
                dead_letter_topic(topic),
                types,
                f"{consumer} dead-letters what it cannot decode or handle from {topic}.",
            )

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Council contact platform events",
            "version": "1.0.0",
            "description": "CloudEvents 1.0 in structured JSON mode on Kafka, each message with "
            f"the header `{CONTENT_TYPE_HEADER}: {STRUCTURED_CONTENT_TYPE}` (the CloudEvents Kafka "
            "protocol binding); extension attributes such as traceparent are top-level members "
            "of the event. The message key is "
            "the contact's id, so one contact's events stay in order. Events carry no personal "
            "data: ids, channel, service area, times and outcomes only. Generated by "
            "contact_common.events.export; do not edit.",
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": {**top.get("$defs", {}), _HEADERS_SCHEMA: _HEADERS},
        },
    }


def rendered_files() -> dict[str, str]:
    """Path relative to the output directory -> the file's text."""
    files = {f"schemas/{name}.json": _render(schema) for name, schema in json_schemas().items()}
    files["asyncapi.json"] = _render(asyncapi_document())
    return files


def write(outdir: Path) -> list[Path]:
    """Write every file under `outdir`, removing schemas of types that no longer exist."""
    files = rendered_files()
    written = []
    for relative, text in files.items():
        path = outdir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    for stale in (outdir / "schemas").glob("*.json"):
        if f"schemas/{stale.name}" not in files:
            stale.unlink()
    return written


def _render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _types_on(topic: str) -> list[str]:
    return [name for name, name_topic in TOPIC_OF_TYPE.items() if name_topic == topic]


def _producer(event_type: str) -> str:
    return _PRODUCER_OF_AGGREGATE[event_type.split(".", 1)[0]]


def _summary(event_class: type) -> str:
    data_class = event_class.model_fields["data"].annotation
    return (data_class.__doc__ or "").strip().splitlines()[0]


def _channel(topic: str, description: str, types: list[str]) -> dict[str, Any]:
    return {
        "address": topic,
        "description": description,
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in types},
        "bindings": {"kafka": {"topic": topic, "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _operation(action: str, topic: str, types: list[str], summary: str) -> dict[str, Any]:
    return {
        "action": action,
        "summary": summary,
        "channel": {"$ref": f"#/channels/{topic}"},
        "messages": [{"$ref": f"#/channels/{topic}/messages/{name}"} for name in types],
    }


def _pascal(name: str) -> str:
    return "".join(word.capitalize() for word in name.replace(".", "-").split("-"))


def _camel(name: str) -> str:
    pascal = _pascal(name)
    return pascal[:1].lower() + pascal[1:]


def main(argv: list[str]) -> None:
    """Write the contracts to argv[0], or docs/events."""
    outdir = Path(argv[0]) if argv else DEFAULT_OUTDIR
    written = write(outdir)
    print(f"wrote {len(written)} files under {outdir}")


if __name__ == "__main__":
    main(sys.argv[1:])
