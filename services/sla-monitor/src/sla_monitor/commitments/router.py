"""GET /v1/commitments."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from contact_common.auth import require_scope
from contact_common.errors import PROBLEM_RESPONSES
from sla_monitor.commitments import service
from sla_monitor.commitments.schemas import CommitmentsResponse
from sla_monitor.dependencies import PolicyDep

router = APIRouter(prefix="/v1", tags=["commitments"])


@router.get(
    "/commitments",
    response_model=CommitmentsResponse,
    summary="The commitments in force",
    description="The policy every service keeps (chosen by POLICY): each commitment's "
    "contacts, the events that start, stop, withdraw or extend its clock, and its target.",
    responses={s: PROBLEM_RESPONSES[s] for s in (401, 403)},
    dependencies=[Depends(require_scope("sla:read"))],
)
async def get_commitments(policy: PolicyDep) -> CommitmentsResponse:
    return service.commitments_in_force(policy=policy)
