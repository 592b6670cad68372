"""The out-of-hours standby contractor's call records."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from contact_common.db import UTCDateTime
from enquiry_api.models import Base


class StandbyRecord(Base):
    """One out-of-hours call the contractor took; `record_id` is unique per contractor (API key).

    caller_phone and notes are personal data: erasure empties them.
    """

    __tablename__ = "standby_record"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    contractor_key_id: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(128))
    call_started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    category: Mapped[str] = mapped_column(String(100))
    service_area: Mapped[str] = mapped_column(String(64))
    action_taken: Mapped[str] = mapped_column(Text)
    requires_follow_up: Mapped[bool] = mapped_column(Boolean)
    caller_phone: Mapped[str | None] = mapped_column(String(32))
    caller_phone_digits: Mapped[str | None] = mapped_column(String(16), index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    enquiry_id: Mapped[UUID | None] = mapped_column(
        Uuid, ForeignKey("enquiry.enquiry.id", ondelete="SET NULL"), index=True
    )
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("contractor_key_id", "record_id"),)
