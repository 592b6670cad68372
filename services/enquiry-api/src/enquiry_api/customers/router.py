"""HTTP route of erasure (UK GDPR right to erasure)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from contact_common.auth import Principal, require_scope
from contact_common.errors import PROBLEM_RESPONSES
from contact_common.service import SessionDep
from enquiry_api.customers import service
from enquiry_api.customers.schemas import ErasureRequest, ErasureResult

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.post(
    "/erase",
    response_model=ErasureResult,
    summary="Erase a customer's personal data",
    description="Empties the customer's name, email, phone, address and UPRN, the enquiry's "
    "description, location and Open311 attributes on every matching enquiry (by id, email or "
    "phone), and caller_phone and notes on the standby records of that number or those "
    "enquiries. Channel, service area, times, status and reference stay, so the statistics do "
    "not change; no event is published. Each enquiry's history records the erasure. Repeating "
    "it is harmless. Needs `customers:erase`.",
    responses={k: PROBLEM_RESPONSES[k] for k in (401, 403, 404, 422)},
)
async def erase_customer(
    body: ErasureRequest,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require_scope("customers:erase"))],
) -> ErasureResult:
    return await service.erase_customer(session, request=body, actor=principal)
