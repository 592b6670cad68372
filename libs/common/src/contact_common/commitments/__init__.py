"""The council's service commitments: one policy model, one loader, one deadline calculation.

Every service and contactctl read the commitments from here (DESIGN.md, "The commitments"):
the policy file chosen by the unprefixed `POLICY` setting, and the council's calendar given
once for all services (`contact_common.settings`).
"""

from contact_common.commitments.deadlines import (
    ExtensionRefused,
    ExtensionTooLong,
    at_risk_at,
    check_extension,
    due_at,
    extended_due_at,
)
from contact_common.commitments.next_due import (
    DueStatus,
    EnquiryState,
    NextDue,
    RunningClock,
    enquiry_clocks,
    next_due,
)
from contact_common.commitments.policy import (
    SHIPPED_POLICIES,
    Anchor,
    AppliesTo,
    Commitment,
    Policy,
    PolicyError,
    Target,
    load_policy,
    parse_policy,
)

__all__ = [
    "SHIPPED_POLICIES",
    "Anchor",
    "AppliesTo",
    "Commitment",
    "DueStatus",
    "EnquiryState",
    "ExtensionRefused",
    "ExtensionTooLong",
    "NextDue",
    "Policy",
    "PolicyError",
    "RunningClock",
    "Target",
    "at_risk_at",
    "check_extension",
    "due_at",
    "enquiry_clocks",
    "extended_due_at",
    "load_policy",
    "next_due",
    "parse_policy",
]
