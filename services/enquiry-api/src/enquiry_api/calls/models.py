"""Telephony call records, one per call of the contact centre's telephony platform."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Float, ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from contact_common.db import UTCDateTime
from enquiry_api.models import Base


class CallRecord(Base):
    """A call offered to a queue, answered or abandoned; `call_id` is the platform's own id."""

    __tablename__ = "call_record"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(128), unique=True)
    queue: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    service_area: Mapped[str | None] = mapped_column(String(64))
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    abandoned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wait_seconds: Mapped[float] = mapped_column(Float)
    enquiry_id: Mapped[UUID | None] = mapped_column(
        Uuid, ForeignKey("enquiry.enquiry.id", ondelete="SET NULL")
    )
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(64))
