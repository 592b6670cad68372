"""Putting an enquiry right: correcting a mistyped received_at, channel or service area, and
voiding a duplicate, spam or a test, each with its history entry and event in the caller's
transaction (nothing here commits).

A correction restates the facts commitments and figures are counted from (enquiry.corrected);
sla-monitor times the enquiry again from them and metrics-api moves its counts. A void
(enquiry.voided) ends the enquiry: no further steps, its clocks cancelled, counted nowhere.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.auth import Principal
from contact_common.errors import ProblemError
from contact_common.events import (
    Channel,
    CloudEvent,
    EnquiryCorrected,
    EnquiryCorrectedData,
    EnquiryVoided,
    EnquiryVoidedData,
    VoidReason,
)
from enquiry_api.common import SOURCE, invalid, utc_now
from enquiry_api.config import Settings
from enquiry_api.enquiries import repository
from enquiry_api.enquiries.domain import (
    EnquiryStatus,
    Facts,
    corrected_fields,
    corrected_received_at_problem,
    void_problem,
)
from enquiry_api.enquiries.models import Enquiry
from enquiry_api.enquiries.service import (
    check_service_area,
    event_facts,
    history_entry,
    not_found,
    record_change,
)


async def _lock_unvoided(session: AsyncSession, enquiry_id: UUID) -> Enquiry:
    enquiry = await repository.get(session, enquiry_id, for_update=True)
    if enquiry is None:
        raise not_found(enquiry_id)
    if enquiry.voided_at is not None:
        raise ProblemError(
            409,
            f"The enquiry was voided ({enquiry.void_reason_code}) at "
            f"{enquiry.voided_at.isoformat()}; it takes no further changes.",
            problem="enquiry-voided",
            title="Voided",
            current_status=enquiry.status,
            allowed_actions=[],
        )
    return enquiry


async def correct(
    session: AsyncSession,
    *,
    enquiry_id: UUID,
    received_at: datetime | None,
    channel: Channel | None,
    service_area: str | None,
    reason: str,
    actor: Principal,
    settings: Settings,
) -> Enquiry:
    """Corrects the enquiry's received_at, channel and/or service area (enquiry.corrected).

    Values the enquiry already has change nothing: a retried correction records nothing again.
    """
    now = utc_now()
    if service_area is not None:
        check_service_area(settings, service_area, "body.service_area")
    enquiry = await _lock_unvoided(session, enquiry_id)
    current = Facts(
        received_at=enquiry.received_at, channel=enquiry.channel, service_area=enquiry.service_area
    )
    requested = Facts(
        received_at=received_at.astimezone(UTC) if received_at else current.received_at,
        channel=channel.value if channel else current.channel,
        service_area=service_area or current.service_area,
    )
    changes = corrected_fields(current, requested)
    if not changes:
        return enquiry
    if "received_at" in changes:
        first_step_at = await repository.first_step_at(session, enquiry.id)
        problem = corrected_received_at_problem(
            requested.received_at,
            first_step_at=first_step_at,
            now=now,
            skew=timedelta(seconds=settings.clock_skew_seconds),
        )
        if problem:
            raise invalid("body.received_at", f"received_at {problem}")
        if first_step_at is None:
            enquiry.last_step_at = requested.received_at
    event = _apply_correction(enquiry, current=current, requested=requested, now=now)
    details = {"reason": reason, "changes": _changes_to_record(changes)}
    entry = history_entry(
        enquiry, "corrected", enquiry.status, now=now, actor=actor, details=details
    )
    await record_change(session, entry, event)
    return enquiry


def _apply_correction(
    enquiry: Enquiry, *, current: Facts, requested: Facts, now: datetime
) -> CloudEvent:
    """Changes the facts; returns enquiry.corrected."""
    enquiry.received_at = requested.received_at
    enquiry.channel = requested.channel
    enquiry.service_area = requested.service_area
    enquiry.correction_count += 1
    enquiry.updated_at = now
    return EnquiryCorrected.from_data(
        EnquiryCorrectedData(
            **event_facts(enquiry),
            corrected_at=now,
            correction=enquiry.correction_count,
            previous_channel=Channel(current.channel),
            previous_service_area=current.service_area,
            previous_received_at=current.received_at,
        ),
        source=SOURCE,
    )


def _changes_to_record(changes: dict[str, tuple[object, object]]) -> dict[str, object]:
    return {
        name: {"from": _jsonable(old), "to": _jsonable(new)} for name, (old, new) in changes.items()
    }


def _jsonable(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


async def void(
    session: AsyncSession,
    *,
    enquiry_id: UUID,
    reason_code: VoidReason,
    reason: str,
    duplicate_of: UUID | None,
    actor: Principal,
) -> Enquiry:
    """Voids the enquiry: a duplicate, spam or a test (enquiry.voided). Once only."""
    now = utc_now()
    problem = void_problem(
        reason_code=reason_code.value, duplicate_of=duplicate_of, contact_id=enquiry_id
    )
    if problem:
        raise invalid("body.duplicate_of", f"duplicate_of {problem}")
    enquiry = await _lock_unvoided(session, enquiry_id)
    if duplicate_of is not None and not await repository.exists(session, duplicate_of):
        raise invalid("body.duplicate_of", f"duplicate_of: there is no enquiry {duplicate_of}")
    before = enquiry.status
    enquiry.status = EnquiryStatus.voided.value
    enquiry.voided_at = now
    enquiry.void_reason_code = reason_code.value
    enquiry.void_reason = reason
    enquiry.duplicate_of = duplicate_of
    enquiry.updated_at = now
    details: dict[str, object] = {"reason_code": reason_code.value, "reason": reason}
    if duplicate_of is not None:
        details["duplicate_of"] = str(duplicate_of)
    event = EnquiryVoided.from_data(
        EnquiryVoidedData(
            **event_facts(enquiry), voided_at=now, cause=reason_code, duplicate_of=duplicate_of
        ),
        source=SOURCE,
    )
    entry = history_entry(enquiry, "voided", before, now=now, actor=actor, details=details)
    await record_change(session, entry, event)
    return enquiry
