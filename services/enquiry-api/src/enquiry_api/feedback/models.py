"""Satisfaction scores residents give a contact."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import ForeignKey, SmallInteger, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from contact_common.db import UTCDateTime
from enquiry_api.models import Base


class Feedback(Base):
    """A score from 1 to 5 on a contact (KPI CX02); `response_id` is the survey tool's id."""

    __tablename__ = "feedback"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    response_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    score: Mapped[int] = mapped_column(SmallInteger)
    channel: Mapped[str] = mapped_column(String(32))
    service_area: Mapped[str] = mapped_column(String(64))
    enquiry_id: Mapped[UUID | None] = mapped_column(
        Uuid, ForeignKey("enquiry.enquiry.id", ondelete="SET NULL")
    )
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(64))
