"""/v1/staff: the staff directory (admin): who an assignee's id is, and their team's mailbox."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response

from contact_common.auth import require_scope
from contact_common.errors import PROBLEM_RESPONSES
from contact_common.events import StaffId
from contact_common.service import SessionDep
from sla_monitor.dependencies import ClockDep
from sla_monitor.staff import service
from sla_monitor.staff.schemas import StaffDetails, StaffIn, StaffOut

router = APIRouter(
    prefix="/v1/staff", tags=["staff"], dependencies=[Depends(require_scope("admin"))]
)
StaffIdPath = Annotated[StaffId, Path(description="The member of staff's id.")]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: PROBLEM_RESPONSES[s] for s in (401, 403, 422, *statuses)}


@router.post(
    "",
    status_code=201,
    response_model=StaffOut,
    summary="Add a member of staff",
    description="Adds a member of staff to the directory the worklist and alerts name owners "
    "from. 409 if the staff id is already there.",
    responses=_errors(409),
)
async def add_staff(session: SessionDep, clock: ClockDep, member: StaffIn) -> StaffOut:
    return await service.add_staff(session, member=member, now=clock.now())


@router.get(
    "",
    response_model=list[StaffOut],
    summary="The staff directory",
    description="Everyone in the directory, by staff id.",
    responses=_errors(),
)
async def list_staff(session: SessionDep) -> list[StaffOut]:
    return await service.list_staff(session)


@router.get(
    "/{staff_id}",
    response_model=StaffOut,
    summary="A member of staff",
    description="One member of staff; 404 if the id is not in the directory.",
    responses=_errors(404),
)
async def get_staff(session: SessionDep, staff_id: StaffIdPath) -> StaffOut:
    return await service.get_staff(session, staff_id=staff_id)


@router.put(
    "/{staff_id}",
    response_model=StaffOut,
    summary="Change a member of staff's details",
    description="Replaces the name, team and team mailbox; 404 if the id is not there.",
    responses=_errors(404),
)
async def change_staff(
    session: SessionDep, clock: ClockDep, staff_id: StaffIdPath, details: StaffDetails
) -> StaffOut:
    return await service.change_staff(session, staff_id=staff_id, details=details, now=clock.now())


@router.delete(
    "/{staff_id}",
    status_code=204,
    response_class=Response,
    summary="Remove a member of staff",
    description="Removes them from the directory; clocks assigned to them show the staff id "
    "with no name. 404 if the id is not there.",
    responses=_errors(404),
)
async def remove_staff(session: SessionDep, staff_id: StaffIdPath) -> Response:
    await service.remove_staff(session, staff_id=staff_id)
    return Response(status_code=204)
