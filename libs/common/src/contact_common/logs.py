"""Structured logs: JSON lines with no personal data (ids, routes, outcomes only)."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

# Keys that may carry personal data: dropped from every log line whatever the caller passed.
PERSONAL_KEYS = frozenset(
    {
        "name",
        "email",
        "phone",
        "address",
        "customer",
        "caller_phone",
        "notes",
        "description",
        "authorization",
        "api_key",
        "token",
        "password",
        "uprn",
        "postcode",
    }
)


def _drop_personal_data(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in PERSONAL_KEYS.intersection(event_dict):
        event_dict[key] = "[redacted]"
    return event_dict


def configure_logging(*, service: str, level: str = "INFO", json: bool = True) -> None:
    """Sets up structlog and the standard library's logging for one service process."""
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _drop_personal_data,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    logging.basicConfig(
        level=level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )
    # aiokafka logs every reconnect attempt at ERROR while a broker is down; warnings are enough.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").disabled = True


def get_logger(name: str) -> Any:
    """A structured logger."""
    return structlog.get_logger(name)
