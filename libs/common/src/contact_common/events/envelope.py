"""The CloudEvents 1.0 envelope (structured JSON mode) and the base of every event's data."""

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Literal, Self, cast
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contact_common.events.common import UtcDatetime

_ENVELOPE_ATTRIBUTES = (
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "data",
)

EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")
"""A CloudEvents extension attribute's name: lower-case letters and digits (20 at most)."""


class EventData(BaseModel):
    """Base of every event's data: frozen, and naming its contact-id and instant fields."""

    # A tolerant reader: a field added later (an additive change, same type) is ignored by a
    # consumer that does not know it yet, rather than sending the event to the dead letters.
    model_config = ConfigDict(frozen=True, extra="ignore")

    subject_field: ClassVar[str]
    """The data field holding the contact's id: the envelope's subject and the Kafka key."""
    time_field: ClassVar[str]
    """The data field holding when the thing happened: the envelope's time."""

    @property
    def subject_id(self) -> UUID:
        """The id of the contact this event is about (the value of `subject_field`)."""
        return cast(UUID, getattr(self, self.subject_field))

    @property
    def occurred_at(self) -> datetime:
        """When the thing happened in the world (UTC)."""
        return cast(datetime, getattr(self, self.time_field))


def _every_attribute_on_the_wire(schema: dict[str, Any]) -> None:
    # Producers always write every attribute, so the published contract requires them all,
    # though the model has defaults for convenience when an event is built.
    schema["required"] = [name for name in _ENVELOPE_ATTRIBUTES if name in schema["properties"]]


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event, structured JSON mode; each event type narrows `type` and `data`.

    Attributes beyond the model's are CloudEvents extension attributes (`traceparent` when
    tracing is on): kept, written back as they came, and carried through both Kafka content
    modes by `contact_common.bus.binding`.
    """

    model_config = ConfigDict(
        frozen=True, extra="allow", json_schema_extra=_every_attribute_on_the_wire
    )

    specversion: Literal["1.0"] = Field(default="1.0", description="CloudEvents version.")
    id: UUID = Field(
        default_factory=uuid4,
        description="Unique per event, kept when republished; consumers deduplicate on it.",
    )
    source: str = Field(
        min_length=1,
        max_length=200,
        description="The service that published the event, e.g. /enquiry-api.",
    )
    type: str = Field(description="The event type, named domain.past_tense.")
    subject: str = Field(
        description="The contact's id (enquiry, call, visit, complaint or feedback id); "
        "also the Kafka message key, so one contact's events stay in order."
    )
    time: UtcDatetime = Field(
        description="When the thing happened in the world (not when it was recorded), in UTC."
    )
    datacontenttype: Literal["application/json"] = Field(
        default="application/json", description="The media type of data."
    )
    data: EventData = Field(description="The event's facts: ids, channel, service area, times.")

    @model_validator(mode="after")
    def _agrees_with_data(self) -> Self:
        try:
            same_contact = UUID(self.subject) == self.data.subject_id
        except ValueError:
            same_contact = False
        if not same_contact:
            raise ValueError(f"subject must be data.{self.data.subject_field}")
        if self.time != self.data.occurred_at:
            raise ValueError(f"time must equal data.{self.data.time_field}")
        return self

    @property
    def extensions(self) -> Mapping[str, Any]:
        """The event's extension attributes by name (none unless a producer added some)."""
        return self.model_extra or {}

    def with_extensions(self, **attributes: str | int | bool) -> Self:
        """A copy of the event carrying these extension attributes as well."""
        for name in attributes:
            if name in type(self).model_fields or not EXTENSION_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a CloudEvents extension attribute name")
        return self.model_copy(update=attributes)

    @property
    def partition_key(self) -> bytes:
        """The Kafka message key: the contact's id."""
        return self.subject.encode()

    @classmethod
    def from_data(cls, data: EventData, *, source: str, id: UUID | None = None) -> Self:
        """Build the event for `data`, taking subject and time from it."""
        # Every concrete event defaults `type` to its literal; only this base class requires it.
        return cls(  # type: ignore[call-arg]
            id=id or uuid4(),
            source=source,
            subject=str(data.subject_id),
            time=data.occurred_at,
            data=data,
        )
