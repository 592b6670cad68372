"""Updates residents post on Open311 requests (mySociety's servicerequestupdates extension)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from contact_common.db import UTCDateTime
from enquiry_api.models import Base


class ResidentUpdate(Base):
    """One update on a service request, e.g. a FixMyStreet comment, as its sender posted it.

    `sender_update_id` (the sender's own id) is unique per sender (API key): a retry is
    recognised. The enquiry's history holds the step (`history_id`, whose id is the update_id
    answered); name, email, phone, description and media_urls are personal data, which only this
    table keeps and erasure empties.
    """

    __tablename__ = "resident_update"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    enquiry_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("enquiry.enquiry.id", ondelete="CASCADE"), index=True
    )
    sender_key_id: Mapped[str] = mapped_column(String(64))
    sender_update_id: Mapped[str] = mapped_column(String(128))
    # Set once the history entry is written, in the same transaction.
    history_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("enquiry.enquiry_history.id", ondelete="CASCADE"),
        unique=True,
    )
    status: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reopened: Mapped[bool] = mapped_column(Boolean)
    description: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    # The last ten digits, as on an enquiry, so erasure by phone finds any spelling of it.
    phone_digits: Mapped[str | None] = mapped_column(String(16), index=True)
    media_urls: Mapped[list[str] | None] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("sender_key_id", "sender_update_id"),)
