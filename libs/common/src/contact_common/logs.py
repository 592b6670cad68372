"""Structured logs: JSON lines with no personal data (ids, routes, outcomes only); a line
written within a traced request or message carries its `trace_id` and `span_id`."""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO, cast

import structlog
from structlog.typing import EventDict

from contact_common.tracing import log_trace_ids

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


def _drop_personal_data(_: Any, __: str, event_dict: EventDict) -> EventDict:
    for key in PERSONAL_KEYS.intersection(event_dict):
        event_dict[key] = "[redacted]"
    return event_dict


_copies: list[TextIO] = []


def copy_logs_to(stream: TextIO | None) -> None:
    """Also writes every structured log line to `stream` (a test session's log); None stops."""
    _copies.clear()
    if stream is not None:
        _copies.append(stream)


class _Stderr:
    """Where structlog prints: the process's stderr of the moment, and any copies."""

    def write(self, text: str) -> int:
        for copy in _copies:
            copy.write(text)
        return sys.stderr.write(text)

    def flush(self) -> None:
        for copy in _copies:
            copy.flush()
        sys.stderr.flush()


_STDERR = _Stderr()


def configure_logging(*, service: str, level: str = "INFO", json: bool = True) -> None:
    """Sets up structlog and the standard library's logging for one service process."""
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            log_trace_ids,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _drop_personal_data,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        # Looked up at each write, not held: a logger follows a replaced stderr (a test's
        # capture) and feeds the copies. A TextIO to structlog: it has the write and flush it calls.
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _STDERR)),
        # Not cached: a module's logger used once before this ran (a test calling a service
        # function directly) would keep structlog's defaults, stdout and all, for the process.
        # A bound logger costs microseconds; a request logs once or twice.
        cache_logger_on_first_use=False,
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
