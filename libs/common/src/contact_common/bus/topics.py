"""Topic names: a contract between services, so they live in one place."""

CONTACT_EVENTS = "contact.events"
SLA_EVENTS = "sla.events"
DEAD_LETTER_SUFFIX = ".dlq"


def dead_letter_topic(topic: str) -> str:
    """The dead-letter topic that takes what cannot be parsed from `topic`."""
    return f"{topic}{DEAD_LETTER_SUFFIX}"
