"""The facts a correction or a void of a contact carries, the same for enquiries and complaints.

An aggregate's corrected (or voided) data derives from `CorrectedData` (or `VoidedData`) first and
its own data base second, so its id, channel, service area and received_at come first on the
wire; the fields whose description names the contact are the aggregate's, made by the functions
here so that they read the same for each.
"""

from typing import Any, ClassVar
from uuid import UUID

from pydantic import Field

from contact_common.events.common import Channel, ServiceArea, UtcDatetime, VoidReason
from contact_common.events.envelope import EventData


def correction_count(*, contact: str) -> Any:
    """The `correction` field of a `contact`'s corrected data (contact: enquiry, complaint)."""
    return Field(
        ge=1,
        description=f"How many corrections the {contact} has now had: a consumer that sees two "
        "out of order keeps the facts of the higher.",
    )


def voided_at(*, contact: str) -> Any:
    """The `voided_at` field of a `contact`'s voided data."""
    return Field(description=f"When the {contact} was voided.")


def duplicate_of(*, contact: str) -> Any:
    """The `duplicate_of` field of a `contact`'s voided data."""
    return Field(default=None, description=f"The {contact} this one duplicates, for a duplicate.")


class CorrectedData(EventData):
    """Base of a contact's correction: its mistyped received_at, channel or service area."""

    time_field: ClassVar[str] = "corrected_at"

    corrected_at: UtcDatetime = Field(
        description="When the correction was recorded. channel, service_area and "
        "received_at are the corrected facts; consumers count and time the contact from them."
    )
    correction: int = correction_count(contact="contact")
    previous_channel: Channel = Field(description="The channel before this correction.")
    previous_service_area: ServiceArea = Field(
        description="The service area before this correction."
    )
    previous_received_at: UtcDatetime = Field(description="received_at before this correction.")


class VoidedData(EventData):
    """Base of a contact's void (duplicate, spam or test): it no longer counts anywhere."""

    time_field: ClassVar[str] = "voided_at"

    voided_at: UtcDatetime = voided_at(contact="contact")
    cause: VoidReason = Field(
        description="Why: duplicate, spam or test (the reason in words stays with the contact)."
    )
    duplicate_of: UUID | None = duplicate_of(contact="contact")
