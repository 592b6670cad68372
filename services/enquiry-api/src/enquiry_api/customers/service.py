"""Erasing a customer's personal data (UK GDPR right to erasure), keeping the statistics."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.auth import Principal
from contact_common.errors import ProblemError
from enquiry_api.common import utc_now
from enquiry_api.customers.domain import (
    ENQUIRY_PERSONAL_FIELDS,
    RESIDENT_UPDATE_PERSONAL_FIELDS,
    STANDBY_PERSONAL_FIELDS,
)
from enquiry_api.customers.schemas import ErasedEnquiry, ErasureRequest, ErasureResult
from enquiry_api.enquiries import repository as enquiries
from enquiry_api.enquiries.domain import phone_digits
from enquiry_api.enquiries.models import EnquiryHistory
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
    erased: list[ErasedEnquiry] = []
    for enquiry in found:
        if enquiry.erased_at is not None:
            erased.append(
                ErasedEnquiry(id=enquiry.id, reference=enquiry.reference, already_erased=True)
            )
            continue
        for name in ENQUIRY_PERSONAL_FIELDS:
            setattr(enquiry, name, None)
        enquiry.erased_at = now
        enquiry.updated_at = now
        enquiries.add_history(
            session,
            EnquiryHistory(
                enquiry_id=enquiry.id,
                action="customer_erased",
                from_status=enquiry.status,
                to_status=enquiry.status,
                occurred_at=now,
                recorded_at=now,
                actor_key_id=actor.key_id,
                actor_name=actor.name,
                details={"erased": ["customer", "description", "location", "attributes"]},
            ),
        )
        erased.append(
            ErasedEnquiry(id=enquiry.id, reference=enquiry.reference, already_erased=False)
        )
    records = await standby.find_for_erasure(
        session, phone_digits=digits, enquiry_ids=[e.id for e in found]
    )
    for record in records:
        for name in STANDBY_PERSONAL_FIELDS:
            setattr(record, name, None)
        record.erased_at = now
    updates = await open311.find_for_erasure(
        session, enquiry_ids=[e.id for e in found], email=request.email, phone_digits=digits
    )
    for update in updates:
        for name in RESIDENT_UPDATE_PERSONAL_FIELDS:
            setattr(update, name, None)
        update.erased_at = update.erased_at or now
    await session.flush()
    return ErasureResult(
        enquiries=erased, standby_records=len(records), resident_updates=len(updates)
    )
