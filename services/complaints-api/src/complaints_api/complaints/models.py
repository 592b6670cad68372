"""Complaint tables: the complaint (with the customer's details), one row per stage, the history."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy import Enum as SqlEnum
from sqlalchemy.orm import Mapped, mapped_column, relationship

from complaints_api.complaints.domain import Status
from complaints_api.models import Base
from contact_common.db import UTCDateTime
from contact_common.events import Channel, ComplaintOutcome, ComplaintStage


def _enum(enum: type, name: str) -> SqlEnum:
    # Strings on both databases (make run uses SQLite): no native type to migrate later.
    return SqlEnum(
        enum,
        name=name,
        native_enum=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


class Complaint(Base):
    """A complaint: where it is in the procedure, and the customer's details until erased."""

    __tablename__ = "complaint"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"))
    service_area: Mapped[str] = mapped_column(String(64))
    enquiry_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    stage: Mapped[ComplaintStage] = mapped_column(_enum(ComplaintStage, "complaint_stage"))
    status: Mapped[Status] = mapped_column(_enum(Status, "complaint_status"))
    outcome: Mapped[ComplaintOutcome | None] = mapped_column(
        _enum(ComplaintOutcome, "complaint_outcome")
    )
    """The latest decision: the last stage response's outcome, or the Ombudsman's."""
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(100))
    close_reason: Mapped[str | None] = mapped_column(Text)
    ombudsman_decision: Mapped[ComplaintOutcome | None] = mapped_column(
        _enum(ComplaintOutcome, "ombudsman_decision")
    )
    # Personal data: blanked by erasure, never in an event or a log.
    description: Mapped[str | None] = mapped_column(Text)
    customer_name: Mapped[str | None] = mapped_column(String(200))
    customer_email: Mapped[str | None] = mapped_column(String(320))
    customer_phone: Mapped[str | None] = mapped_column(String(40))
    customer_address: Mapped[str | None] = mapped_column(String(500))
    customer_uprn: Mapped[str | None] = mapped_column(String(12))
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Corrections of received_at, channel or service area so far (complaint.corrected counts).
    correction_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A void (duplicate, spam or test): status voided, no further steps, counted nowhere.
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    void_reason_code: Mapped[str | None] = mapped_column(String(16))
    void_reason: Mapped[str | None] = mapped_column(Text)  # free text: erasure blanks it
    duplicate_of: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # PostgreSQL serialises writers with FOR UPDATE; SQLite (make run) ignores that, so every
    # UPDATE also checks the version it read and a lost race becomes a 409, never a double step.
    version: Mapped[int] = mapped_column(Integer)

    stages: Mapped[list[ComplaintStageRecord]] = relationship(
        back_populates="complaint",
        order_by="ComplaintStageRecord.started_at",
        cascade="all, delete-orphan",
    )
    history: Mapped[list[ComplaintHistory]] = relationship(
        back_populates="complaint", order_by="ComplaintHistory.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        Index("ix_complaint_received_at_id", "received_at", "id"),
        Index("ix_complaint_stage_status", "stage", "status"),
    )
    __mapper_args__ = {"version_id_col": version}


class ComplaintStageRecord(Base):
    """One stage of a complaint: when it started, its acknowledgement, extension and response."""

    __tablename__ = "complaint_stage"

    complaint_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("complaint.id", ondelete="CASCADE"), primary_key=True
    )
    stage: Mapped[ComplaintStage] = mapped_column(
        _enum(ComplaintStage, "complaint_stage"), primary_key=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """Receipt at stage 1; the customer's escalation request at later stages."""
    escalation_reason: Mapped[str | None] = mapped_column(Text)
    acknowledge_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """The response deadline (after any extension); none at the Ombudsman."""
    extended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extension_working_days: Mapped[int | None] = mapped_column(Integer)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    extended_by: Mapped[str | None] = mapped_column(String(100))
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_by: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[ComplaintOutcome | None] = mapped_column(
        _enum(ComplaintOutcome, "complaint_outcome")
    )
    """The council's decision at stage 1 or 2, or the Ombudsman's decision."""
    summary: Mapped[str | None] = mapped_column(Text)

    complaint: Mapped[Complaint] = relationship(back_populates="stages")


class ComplaintHistory(Base):
    """One step in a complaint's audit history: what happened, when, and who recorded it."""

    __tablename__ = "complaint_history"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    complaint_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("complaint.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(32))
    stage: Mapped[ComplaintStage] = mapped_column(_enum(ComplaintStage, "complaint_stage"))
    status: Mapped[Status] = mapped_column(_enum(Status, "complaint_status"))
    """The status after the step."""
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    officer: Mapped[str | None] = mapped_column(String(100))
    recorded_by: Mapped[str] = mapped_column(String(200))
    """The name of the API key that recorded the step."""
    # Facts of the step (outcome, working days, deadlines): ids and values, never free text,
    # so erasure leaves the history whole; but for the reason given for a correction or a
    # void, which erasure removes.
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)

    complaint: Mapped[Complaint] = relationship(back_populates="history")


class ReferenceCounter(Base):
    """The last reference number issued in each year (CMP-2026-000042), on SQLite.

    PostgreSQL takes numbers from a sequence per year instead (migration 86a04f7b117c).
    """

    __tablename__ = "reference_counter"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer)
