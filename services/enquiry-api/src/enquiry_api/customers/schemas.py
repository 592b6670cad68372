"""Erasure requests (UK GDPR right to erasure) and what they erased."""

from __future__ import annotations

from typing import Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from enquiry_api.common import Email, Phone


class ErasureRequest(BaseModel):
    """Whose personal data to erase: by enquiry, by email address, by phone number, or all."""

    model_config = ConfigDict(extra="forbid")

    enquiry_ids: list[UUID] = Field(
        default_factory=list,
        max_length=1000,
        description="Enquiries whose customer's data to erase.",
    )
    email: Email | None = Field(
        default=None,
        description="Erase every enquiry with this customer email (any case), and every update "
        "posted through Open311 with it.",
    )
    phone: Phone | None = Field(
        default=None,
        description="Erase every enquiry, standby record and Open311 update with this number "
        "(matched on its last ten digits, so +44 7700 900123 and 07700 900123 are one number).",
    )

    @model_validator(mode="after")
    def _names_someone(self) -> Self:
        if not self.enquiry_ids and not self.email and not self.phone:
            raise ValueError("give enquiry_ids, email or phone")
        return self


class ErasedEnquiry(BaseModel):
    """An enquiry whose customer data is gone."""

    id: UUID
    reference: str
    already_erased: bool = Field(description="True if it had been erased before (nothing changed).")


class ErasureResult(BaseModel):
    """What was erased. The statistics (channel, service area, times, status) are kept."""

    enquiries: list[ErasedEnquiry]
    standby_records: int = Field(
        description="How many standby records lost caller_phone and notes."
    )
    resident_updates: int = Field(
        description="How many updates posted through Open311 (on these enquiries, or written "
        "with this email or phone) lost their writer's name, email, phone, words and photo "
        "links; those erased before count again."
    )
