"""What the staff directory's endpoints take and answer."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from contact_common.events import StaffId


def _printable(value: str) -> str:
    # PostgreSQL text holds no NUL and UTF-8 no lone surrogate: refuse them (and other control
    # characters, which no name or address has) as bad input rather than fail on insert.
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        raise ValueError("must not contain control characters")
    return value


Printable = AfterValidator(_printable)
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Printable
]
Team = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), Printable
]
# A mailbox address as RFC 5321 allows in practice: local@domain with a dot in the domain.
TeamEmail = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=254, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
    ),
    Printable,
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
