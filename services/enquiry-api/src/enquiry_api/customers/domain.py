"""What erasure removes: the personal fields of an enquiry, a standby record and an update."""

from __future__ import annotations

ENQUIRY_PERSONAL_FIELDS = (
    "customer_name",
    "customer_email",
    "customer_phone",
    "customer_phone_digits",
    "customer_address",
    "customer_uprn",
    # Free text and places may name or locate a person, so they go too.
    "description",
    "location_address",
    "latitude",
    "longitude",
    "attributes",
    "media_url",
)
"""Emptied by erasure; channel, service area, times, status and reference stay (statistics)."""

STANDBY_PERSONAL_FIELDS = ("caller_phone", "caller_phone_digits", "notes")
"""Emptied by erasure on a standby contractor's record."""

RESIDENT_UPDATE_PERSONAL_FIELDS = (
    "name",
    "email",
    "phone",
    "phone_digits",
    "description",
    "media_urls",
)
"""Emptied by erasure on an update posted through Open311; its status and times stay."""


def clear(target: object, names: tuple[str, ...]) -> None:
    """Empties the named fields of a record."""
    for name in names:
        setattr(target, name, None)
