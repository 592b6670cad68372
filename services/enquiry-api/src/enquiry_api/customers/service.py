"""Erasing a customer's personal data (UK GDPR right to erasure), keeping the statistics."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.auth import Principal
from contact_common.errors import ProblemError
from enquiry_api.common import utc_now
from enquiry_api.customers.domain import (
    ENQUIRY_PERSONAL_FIELDS,
    RESIDENT_UPDATE_PERSONAL_FIELDS,
    STANDBY_PERSONAL_FIELDS,
    clear,
)
from enquiry_api.customers.schemas import ErasedEnquiry, ErasureRequest, ErasureResult
from enquiry_api.enquiries import repository as enquiries
from enquiry_api.enquiries.domain import phone_digits
from enquiry_api.enquiries.models import Enquiry
from enquiry_api.enquiries.service import history_entry
from enquiry_api.open311 import repository as open311
from enquiry_api.standby import repository as standby


async def erase_customer(
    session: AsyncSession, *, request: ErasureRequest, actor: Principal
) -> ErasureResult:
    """Empties the personal fields of the customer's enquiries, standby records and updates.

    The updates are those posted on the customer's enquiries (by anyone: what they say is about
    the customer's report) and those written with the customer's email or phone on any other.
    Each enquiry's audit history records the erasure (who, when); nothing personal is written.
    """
    now = utc_now()
    digits = phone_digits(request.phone)
    found = await enquiries.find_for_erasure(
        session, enquiry_ids=request.enquiry_ids, email=request.email, phone_digits=digits
    )
    missing = set(request.enquiry_ids) - {e.id for e in found}
    if missing:
        raise ProblemError(
            404,
            "There are no enquiries " + ", ".join(sorted(str(m) for m in missing)) + "; nothing "
            "was erased.",
            problem="enquiry-not-found",
        )
    erased = [_erase_enquiry(session, enquiry, actor=actor, now=now) for enquiry in found]
    records = await standby.find_for_erasure(
        session, phone_digits=digits, enquiry_ids=[e.id for e in found]
    )
    for record in records:
        clear(record, STANDBY_PERSONAL_FIELDS)
        record.erased_at = now
    updates = await open311.find_for_erasure(
        session, enquiry_ids=[e.id for e in found], email=request.email, phone_digits=digits
    )
    for update in updates:
        clear(update, RESIDENT_UPDATE_PERSONAL_FIELDS)
        update.erased_at = update.erased_at or now
    await session.flush()
    return ErasureResult(
        enquiries=erased, standby_records=len(records), resident_updates=len(updates)
    )


def _erase_enquiry(
    session: AsyncSession, enquiry: Enquiry, *, actor: Principal, now: datetime
) -> ErasedEnquiry:
    """Empties the enquiry's personal fields, once, and records the erasure on its history."""
    if enquiry.erased_at is not None:
        return ErasedEnquiry(id=enquiry.id, reference=enquiry.reference, already_erased=True)
    clear(enquiry, ENQUIRY_PERSONAL_FIELDS)
    enquiry.erased_at = now
    enquiry.updated_at = now
    enquiries.add_history(
        session,
        history_entry(
            enquiry,
            "customer_erased",
            enquiry.status,
            now=now,
            actor=actor,
            details={"erased": ["customer", "description", "location", "attributes"]},
        ),
    )
    return ErasedEnquiry(id=enquiry.id, reference=enquiry.reference, already_erased=False)
