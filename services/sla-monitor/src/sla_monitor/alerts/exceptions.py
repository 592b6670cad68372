"""What the alert services refuse; the router maps each to a problem document."""

from __future__ import annotations


class AlertError(Exception):
    """Something about alert teams that the caller can put right."""


class TeamNotFound(AlertError):
    """No alert team has that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no alert team is called {name!r}")
        self.name = name


class TeamExists(AlertError):
    """An alert team of that name exists already."""

    def __init__(self, name: str) -> None:
        super().__init__(f"an alert team called {name!r} exists already; PUT to change it")
        self.name = name


class UnknownServiceArea(AlertError):
    """A service area not among the council's configured ones."""

    def __init__(self, unknown: list[str], known: list[str]) -> None:
        super().__init__(
            f"unknown service area(s): {', '.join(unknown)}; known: {', '.join(known)}"
        )
        self.unknown = unknown


class MailOff(AlertError):
    """No SMTP host is configured, so no mail can be sent."""

    def __init__(self) -> None:
        super().__init__("alert mail is off: sla-monitor has no SLA_SMTP_HOST configured")
