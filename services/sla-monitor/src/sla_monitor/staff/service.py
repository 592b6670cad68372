"""The staff directory: add, read, change and remove members of staff."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.errors import ProblemError
from sla_monitor.staff import repository
from sla_monitor.staff.schemas import StaffDetails, StaffIn, StaffOut


def _not_found(staff_id: str) -> ProblemError:
    return ProblemError(404, f"no member of staff has the id {staff_id!r}", problem="not-found")


async def add_staff(session: AsyncSession, *, member: StaffIn, now: datetime) -> StaffOut:
    """Adds a member of staff; 409 if the id is taken."""
    values = {**member.model_dump(), "created_at": now, "updated_at": now}
    if not await repository.add(session, values):
        raise ProblemError(
            409,
            f"staff id {member.staff_id!r} is already in the directory; PUT to change it",
            problem="staff-exists",
        )
    return StaffOut(**values)


async def list_staff(session: AsyncSession) -> list[StaffOut]:
    """Everyone in the directory."""
    return [StaffOut(**row) for row in await repository.all_staff(session)]


async def get_staff(session: AsyncSession, *, staff_id: str) -> StaffOut:
    """One member of staff; 404 if unknown."""
    row = await repository.get(session, staff_id)
    if row is None:
        raise _not_found(staff_id)
    return StaffOut(**row)


async def change_staff(
    session: AsyncSession, *, staff_id: str, details: StaffDetails, now: datetime
) -> StaffOut:
    """Replaces a member of staff's details; 404 if unknown."""
    if not await repository.change(session, staff_id, {**details.model_dump(), "updated_at": now}):
        raise _not_found(staff_id)
    return await get_staff(session, staff_id=staff_id)


async def remove_staff(session: AsyncSession, *, staff_id: str) -> None:
    """Removes a member of staff; their clocks show the id with no name afterwards."""
    if not await repository.remove(session, staff_id):
        raise _not_found(staff_id)
