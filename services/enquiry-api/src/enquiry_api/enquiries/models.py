"""Tables of enquiries: the enquiry, its audit history and the per-year reference counter."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from contact_common.db import UTCDateTime
from enquiry_api.models import Base


class Enquiry(Base):
    """One contact a resident made, on any channel, and where it is in its lifecycle.

    The customer_* columns and the free text (description, location) are the only personal data
    the platform keeps; erasure empties them and keeps the rest for the statistics.
    """

    __tablename__ = "enquiry"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    service_area: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))
    call_id: Mapped[UUID | None] = mapped_column(Uuid)

    customer_name: Mapped[str | None] = mapped_column(String(200))
    customer_email: Mapped[str | None] = mapped_column(String(254))
    customer_phone: Mapped[str | None] = mapped_column(String(32))
    # The last ten digits, so +44 7700 900123 and 07700 900123 find the same customer.
    customer_phone_digits: Mapped[str | None] = mapped_column(String(16))
    customer_address: Mapped[str | None] = mapped_column(String(500))
    customer_uprn: Mapped[str | None] = mapped_column(String(12))

    location_address: Mapped[str | None] = mapped_column(String(500))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    service_code: Mapped[str | None] = mapped_column(String(64))
    media_url: Mapped[str | None] = mapped_column(String(1000))
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    assignee_id: Mapped[str | None] = mapped_column(String(64))
    handed_off: Mapped[bool] = mapped_column(Boolean, default=False)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    first_point: Mapped[bool | None] = mapped_column(Boolean)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_step_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Corrections of received_at, channel or service area so far (enquiry.corrected counts them).
    correction_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A void (a duplicate, spam or a test): status voided, no further steps, counted nowhere.
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    void_reason_code: Mapped[str | None] = mapped_column(String(16))
    # Staff's words on why; may name people, so erasure empties it.
    void_reason: Mapped[str | None] = mapped_column(Text)
    duplicate_of: Mapped[UUID | None] = mapped_column(Uuid)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_enquiry_received_at_id", "received_at", "id"),
        Index("ix_enquiry_service_area_received_at", "service_area", "received_at"),
        Index("ix_enquiry_status_received_at", "status", "received_at"),
        Index("ix_enquiry_customer_email", "customer_email"),
        Index("ix_enquiry_customer_phone_digits", "customer_phone_digits"),
        Index("ix_enquiry_customer_uprn", "customer_uprn"),
        Index("ix_enquiry_assignee_id", "assignee_id"),
    )


class EnquiryHistory(Base):
    """One step in an enquiry's audit history: who did what, when, from which status to which."""

    __tablename__ = "enquiry_history"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    enquiry_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("enquiry.enquiry.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_key_id: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(200))
    # The officer who took the step, when the client names one (the key may be shared).
    officer_id: Mapped[str | None] = mapped_column(String(64))
    # Facts of the step (service area, assignee id, first_point): never personal data.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class EnquiryReferenceCounter(Base):
    """The last reference number issued in a year: ENQ-2026-000123 is number 123 of 2026."""

    __tablename__ = "enquiry_reference_counter"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer)
