"""What the staff directory's endpoints take and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contact_common.events import StaffId
from contact_common.text import SingleLine

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SingleLine
]
Team = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), SingleLine
]
# A mailbox address as RFC 5321 allows in practice: local@domain with a dot in the domain.
TeamEmail = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=254, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
    ),
    SingleLine,
]


class StaffDetails(BaseModel):
    """A member of staff's details (PUT replaces them)."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="The officer's name, as staff know them.")
    team: Team = Field(description="The team they work in, e.g. Waste services.")
    team_email: TeamEmail = Field(description="The team's shared mailbox, for alerts.")


class StaffIn(StaffDetails):
    """A member of staff to add to the directory."""

    staff_id: StaffId = Field(
        description="The staff id the council's systems use (as in enquiry.assigned)."
    )


class StaffOut(StaffIn):
    """A member of staff in the directory."""

    model_config = ConfigDict(extra="ignore")

    created_at: datetime = Field(description="When they were added (UTC).")
    updated_at: datetime = Field(description="When their details last changed (UTC).")
