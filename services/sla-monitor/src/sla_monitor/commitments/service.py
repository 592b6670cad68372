"""The commitments in force."""

from __future__ import annotations

from contact_common.commitments import Policy
from sla_monitor.commitments.schemas import CommitmentsResponse


def commitments_in_force(*, policy: Policy) -> CommitmentsResponse:
    """The policy's commitments, as the API shows them."""
    return CommitmentsResponse(
        policy=policy.name, description=policy.description, commitments=policy.commitments
    )
