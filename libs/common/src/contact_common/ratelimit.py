"""Per-key rate limits: a sliding window per API key and service, 429 with `Retry-After` beyond.

A key is limited by its id (never its secret), after it has been verified: an unverified request
cannot spend another key's budget. The limit is `RATE_LIMIT` for every key (generous by default:
a guard against a runaway client, not a quota) or the key's own `rate_limit` from the key file.
Counts live in this process's memory unless `RATE_LIMIT_STORAGE_URI` points at a shared store
(e.g. `redis://host:6379`), so replicas behind a load balancer share one limit.

The window is limits' sliding window counter: this period's count plus the previous period's,
weighted by how much of it the window still covers. Two counters per key, wherever they are
kept; the exact moving window keeps a timestamp per request, and its in-memory store expires them
with a thread hop per key on every request (about 0.18 ms of CPU a request against 0.07 ms).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from limits import RateLimitItem, parse_many
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import ConfigurationError, StorageError
from limits.storage import storage_from_string
from prometheus_client import Counter

from contact_common.errors import PROBLEM_JSON, Problem, ProblemError
from contact_common.logs import get_logger

if TYPE_CHECKING:
    from contact_common.settings import ServiceSettings

log = get_logger(__name__)

THROTTLED = Counter(
    "http_requests_throttled_total",
    "Requests refused with 429 because their API key was over its rate limit",
    ["service", "key_id"],
)

OFF = ("", "0")
"""Values of a limit that mean no limit."""

# How often a shared store that does not answer is reported while requests go through unlimited.
_STORAGE_WARNING_SECONDS = 60.0


def parse_limit(text: str | None) -> RateLimitItem | None:
    """The limit `text` describes ('300/second', '20 per 2 seconds'); None if empty or '0'.

    Raises ValueError naming the accepted forms for anything else.
    """
    if text is None or text.strip() in OFF:
        return None
    try:
        items = parse_many(text)
    except ValueError:
        raise ValueError(
            f"not a rate limit: {text!r}; write e.g. '300/second', '20 per 2 seconds' "
            "or '1000/minute' (empty or 0 for none)"
        ) from None
    if len(items) != 1:
        raise ValueError(f"one rate limit only, not {len(items)}: {text!r}")
    return None if items[0].amount == 0 else items[0]


def describe(item: RateLimitItem) -> str:
    """'5 requests per 2 seconds'."""
    unit = item.GRANULARITY.name
    period = f"{unit}" if item.multiples == 1 else f"{item.multiples} {unit}s"
    noun = "request" if item.amount == 1 else "requests"
    return f"{item.amount} {noun} per {period}"


def _async_storage_uri(uri: str) -> str:
    # limits' asyncio storages are named async+<scheme>; operators write the usual URI.
    return uri if uri.startswith("async+") else f"async+{uri}"


class RateLimiter:
    """The sliding windows of one service's keys, in memory or in a shared store."""

    def __init__(self, *, service: str, default: str, storage_uri: str = "memory://") -> None:
        self.service = service
        self.default = parse_limit(default)
        try:
            storage = storage_from_string(_async_storage_uri(storage_uri), wrap_exceptions=True)
        except ConfigurationError as exc:
            raise ValueError(f"RATE_LIMIT_STORAGE_URI {storage_uri!r}: {exc}") from exc
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._per_key: dict[str, RateLimitItem | None] = {}
        self._warned_at = -math.inf

    def limit_for(self, own: str | None) -> RateLimitItem | None:
        """A key's limit: its own from the key file if it has one, else the service's."""
        if own is None:
            return self.default
        if own not in self._per_key:
            try:
                self._per_key[own] = parse_limit(own)
            except ValueError:
                # A hand-edited key file: the key keeps working, under the service's limit.
                log.warning("a key's rate limit is not valid; using the default", limit=own)
                self._per_key[own] = self.default
        return self._per_key[own]

    async def check(self, key_id: str, own: str | None = None) -> None:
        """Counts one request of `key_id`; raises a 429 problem if it is over its limit."""
        item = self.limit_for(own)
        if item is None:
            return
        try:
            if await self._limiter.hit(item, self.service, key_id):
                return
            stats = await self._limiter.get_window_stats(item, self.service, key_id)
        except StorageError as exc:
            # Availability over throttling: a store that is down must not take the API with it.
            moment = time.monotonic()
            if moment - self._warned_at > _STORAGE_WARNING_SECONDS:
                self._warned_at = moment
                log.warning("rate limit store unavailable", error=type(exc.storage_error).__name__)
            return
        # reset_time: when the weighted count next drops by one; a whole second at least.
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        THROTTLED.labels(self.service, key_id).inc()
        raise ProblemError(
            429,
            f"This API key may make {describe(item)} to {self.service}; "
            f"try again in {retry_after} s.",
            problem="rate-limited",
            headers={"Retry-After": str(retry_after)},
        )


async def enforce_rate_limit(request: Request, key_id: str, own: str | None = None) -> None:
    """Counts a verified key's request against its limit (429 over it); no-op without a limiter.

    `require_scope` calls it for every Bearer-authenticated route; a route that verifies a key
    its own way (Open311's form field) calls it after verifying.
    """
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        await limiter.check(key_id, own)


RETRY_AFTER_RESPONSE: dict[str, Any] = {
    "description": "Too Many Requests: this API key is over its rate limit.",
    "headers": {
        "Retry-After": {
            "description": "Whole seconds until the key may send again.",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def _document_throttling(app: FastAPI) -> None:
    """Adds the 429 to every operation that takes an API key, in the app's OpenAPI document."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in problem.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components.setdefault("Problem", problem)
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                if isinstance(operation, dict) and operation.get("security"):
                    operation.setdefault("responses", {}).setdefault("429", RETRY_AFTER_RESPONSE)
        return schema

    # FastAPI's documented way to extend the schema is replacing this method on the instance.
    app.openapi = openapi  # type: ignore[method-assign]


def install_rate_limit(app: FastAPI, settings: ServiceSettings) -> None:
    """Limits every key-authenticated route of `app` per key, and documents the 429."""
    app.state.rate_limiter = RateLimiter(
        service=settings.service_name,
        default=settings.rate_limit,
        storage_uri=settings.rate_limit_storage_uri,
    )
    _document_throttling(app)
