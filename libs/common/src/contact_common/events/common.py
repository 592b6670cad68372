"""The vocabulary every event shares: channels, stages, outcomes, slugs, ids and UTC instants.

Strings in events are never free text: each is an id, a reference or a slug with a pattern, so
nothing a resident wrote (or anything written about them) can travel on the bus.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, StringConstraints


class Channel(StrEnum):
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


class ComplaintStage(StrEnum):
    """Where a complaint is in the council's procedure."""

    stage_1 = "stage_1"
    stage_2 = "stage_2"
    ombudsman = "ombudsman"


class ComplaintOutcome(StrEnum):
    """The decision on a complaint (or the ombudsman's decision on it)."""

    upheld = "upheld"
    partly_upheld = "partly_upheld"
    not_upheld = "not_upheld"


class BreachWithdrawal(StrEnum):
    """Why a breach the timer flagged was withdrawn: a step made in time was recorded late."""

    extended = "extended"
    """An extension agreed by the deadline: the clock runs again to its new deadline."""
    abandoned = "abandoned"
    """The contact was withdrawn within the target (a short abandon): excluded."""


class ClockStatus(StrEnum):
    """Where an SLA clock is."""

    pending = "pending"
    met = "met"
    breached = "breached"
    excluded = "excluded"


class ContactType(StrEnum):
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
