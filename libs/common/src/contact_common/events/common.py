"""The vocabulary every event shares: channels, stages, outcomes, slugs, ids and UTC instants.

Strings in events are never free text: each is an id, a reference or a slug with a pattern, so
nothing a resident wrote (or anything written about them) can travel on the bus.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Self

from pydantic import AfterValidator, AwareDatetime, StringConstraints

UNKNOWN_VALUE: Final = re.compile(r"^[a-z][a-z0-9_]{0,15}$")
"""The shape of a vocabulary value a newer build may add, which an older consumer keeps: a
lower-case slug of at most 16 characters, like every value so far (and within the columns
the consumers store them in). Anything else in a vocabulary's place is not an event."""

_keeping_unknown_values: ContextVar[bool] = ContextVar("keeping_unknown_values", default=False)


class Vocabulary(StrEnum):
    """A closed list of values on the wire that a newer build may extend.

    Producers write only the members (a model refuses any other value). A consumer reading an
    event from a newer producer keeps a value it does not know, as an unrecognised member
    (`recognised` is False, equal to its string, in no `applies_to` list), so a rolling upgrade
    does not dead-letter the event: see `decode_event(keep_unknown_values=True)`.
    """

    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        # pydantic calls this for a value that is no member's, as Enum's own lookup does.
        if _keeping_unknown_values.get() and isinstance(value, str):
            return cls._unrecognised(value)
        return None

    @classmethod
    def received(cls, value: str) -> Self:
        """The member of `value`, or an unrecognised one: a value stored from a newer producer."""
        try:
            return cls(value)
        except ValueError:
            member = cls._unrecognised(value)
            if member is None:
                raise
            return member

    @classmethod
    def _unrecognised(cls, value: str) -> Self | None:
        if not UNKNOWN_VALUE.fullmatch(value):
            return None
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member

    @property
    def recognised(self) -> bool:
        """True for a member this build knows; False for a value a newer producer added."""
        return type(self)._value2member_map_.get(self._value_) is self

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        schema: dict[str, Any] = handler(core_schema)
        # Published so that the compatibility check (and any other consumer) knows the list
        # may grow: consumers keep values they do not know.
        schema["x-extensible"] = True
        return schema


@contextmanager
def keeping_unknown_values() -> Iterator[None]:
    """Within the block, validating a vocabulary keeps a slug-shaped value it does not know."""
    token = _keeping_unknown_values.set(True)
    try:
        yield
    finally:
        _keeping_unknown_values.reset(token)


class Channel(Vocabulary):
    """How a resident reached the council."""

    phone = "phone"
    email = "email"
    web_form = "web_form"
    portal = "portal"
    face_to_face = "face_to_face"
    letter = "letter"
    voicemail = "voicemail"
    social_media = "social_media"
    chat = "chat"
    standby = "standby"


class ComplaintStage(Vocabulary):
    """Where a complaint is in the council's procedure."""

    stage_1 = "stage_1"
    stage_2 = "stage_2"
    ombudsman = "ombudsman"


class ComplaintOutcome(Vocabulary):
    """The decision on a complaint (or the ombudsman's decision on it)."""

    upheld = "upheld"
    partly_upheld = "partly_upheld"
    not_upheld = "not_upheld"


class BreachWithdrawal(Vocabulary):
    """Why a breach the timer flagged was withdrawn: a step made in time was recorded late."""

    extended = "extended"
    """An extension agreed by the deadline: the clock runs again to its new deadline."""
    abandoned = "abandoned"
    """The contact was withdrawn within the target (a short abandon): excluded."""
    corrected = "corrected"
    """The contact's received_at, channel or service area was corrected: the clock is decided
    again against the corrected facts (a new sla.met or sla.breached follows, or the timer's)."""
    voided = "voided"
    """The contact was voided (a duplicate, spam or a test): the clock is cancelled."""


class VoidReason(Vocabulary):
    """Why a contact was voided: it never was a contact the council should count."""

    duplicate = "duplicate"
    spam = "spam"
    test = "test"


class ClockStatus(Vocabulary):
    """Where an SLA clock is."""

    pending = "pending"
    met = "met"
    breached = "breached"
    excluded = "excluded"
    cancelled = "cancelled"
    """The contact was voided, or corrected so the commitment no longer applies to it."""


class ContactType(Vocabulary):
    """The kind of contact an SLA clock runs for."""

    enquiry = "enquiry"
    call = "call"
    visit = "visit"
    complaint = "complaint"


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""An instant with an offset, normalised to UTC; naive datetimes are refused."""

ServiceArea = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
"""A service area slug from the council's configurable list, e.g. `council_tax`."""

Reference = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,8}(-[A-Z0-9]{1,12}){1,3}$")]
"""A human reference the council issued, e.g. `ENQ-2026-000123`; never personal."""

StaffId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
"""A member of staff's id in a council system (not a name, not an email address)."""

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
"""A lower-case configuration key, such as a telephony queue."""

CommitmentId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
"""A service commitment's id from the policy, e.g. `email-acknowledge`."""
