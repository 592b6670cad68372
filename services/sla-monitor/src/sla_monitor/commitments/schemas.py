"""What GET /v1/commitments answers."""

from __future__ import annotations

from pydantic import BaseModel, Field

from contact_common.commitments import Commitment


class CommitmentsResponse(BaseModel):
    """The policy in force and its commitments."""

    policy: str = Field(description="The policy's name, e.g. default.")
    description: str = Field(description="What the policy is.")
    commitments: list[Commitment] = Field(description="Every commitment the service keeps.")
