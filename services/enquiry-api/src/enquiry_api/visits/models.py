"""Visits to reception, as the kiosk records them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Float, ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from contact_common.db import UTCDateTime
from enquiry_api.models import Base


class Visit(Base):
    """A visitor's arrival at reception and when staff saw them; `visit_id` is the kiosk's id."""

    __tablename__ = "visit"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    visit_id: Mapped[str] = mapped_column(String(128), unique=True)
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    attended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    service_area: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    enquiry_id: Mapped[UUID | None] = mapped_column(
        Uuid, ForeignKey("enquiry.enquiry.id", ondelete="SET NULL")
    )
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(64))
