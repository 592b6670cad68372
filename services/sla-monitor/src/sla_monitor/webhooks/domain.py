"""Pure rules of webhook delivery: what matches, what is sent, when to try again, where not to.

Deliveries follow the Standard Webhooks specification (standardwebhooks.com): a `webhook-id`
stable per delivery, so a receiver that sees an id twice drops the second; `webhook-timestamp`
and a `v1,<base64>` HMAC-SHA256 signature under a `whsec_` secret, made on each attempt.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import random
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit
from uuid import UUID, uuid5

import orjson

from contact_common.events import CloudEvent

# Every sla.* event sla-monitor publishes; a subscription names the ones it wants.
EVENT_TYPES: tuple[str, ...] = (
    "sla.at_risk",
    "sla.breached",
    "sla.met",
    "sla.stopped",
    "sla.withdrawn",
)
SECRET_PREFIX = "whsec_"
_DELIVERY_NAMESPACE = UUID("5c1d8f0e-8f2b-4b53-9d3c-6f1f7b2a9e40")
# The event's data fields a receiver gets: ids, the reference, times and the commitment, no
# personal data (a reference names a case, not a person).
_PAYLOAD_FIELDS = (
    "clock_id",
    "commitment",
    "contact_type",
    "contact_id",
    "reference",
    "channel",
    "service_area",
    "started_at",
    "due_at",
    "at_risk_at",
    "breached_at",
    "stopped_at",
    "withdrawn_at",
    "elapsed_seconds",
    "corrects_breach",
    "cause",
    "status",
)

DeliveryStatus = Literal["pending", "delivered", "failed"]
Outcome = Literal["delivered", "failed", "timeout", "error", "refused"]


class UnsafeUrl(ValueError):
    """A webhook URL this service will not call (scheme, host or address)."""


class InvalidSecret(ValueError):
    """A given secret that is not a Standard Webhooks `whsec_` secret."""


class WebhookNotFound(LookupError):
    """No such subscription, or no such delivery of it."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """Who wants which events: the part of a subscription that decides a match."""

    id: UUID
    event_types: Sequence[str]
    service_areas: Sequence[str]


def matches(subscription: Subscription, *, event_type: str, service_area: str | None) -> bool:
    """True if the subscription wants this event: its type, and its service area if it filters.

    A subscription filtering on service areas does not get events of clocks without one (calls).
    """
    if event_type not in subscription.event_types:
        return False
    return not subscription.service_areas or service_area in subscription.service_areas


def delivery_id(subscription_id: UUID, event_id: UUID) -> UUID:
    """The delivery's id (`webhook-id`): the same event to the same subscription is one delivery."""
    return uuid5(_DELIVERY_NAMESPACE, f"{subscription_id}:{event_id}")


def payload_of(event: CloudEvent, *, reference: str | None = None) -> bytes:
    """The body sent: the Standard Webhooks shape (type, timestamp, data) of an sla.* event,
    with the contact's human reference (ENQ-…, CMP-…) when sla-monitor has it, else null."""
    data = {**event.data.model_dump(mode="json"), "reference": reference}
    body = {
        "type": event.type,
        "timestamp": event.time.isoformat().replace("+00:00", "Z"),
        "data": {
            "event_id": str(event.id),
            "occurred_at": event.time.isoformat().replace("+00:00", "Z"),
            **{name: data[name] for name in _PAYLOAD_FIELDS if name in data},
        },
    }
    return orjson.dumps(body)


def new_secret() -> str:
    """A fresh signing secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def check_secret(secret: str) -> str:
    """A given secret, if it is `whsec_` and base64 of 24 to 64 bytes (the spec's range)."""
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecret(f"a secret starts with {SECRET_PREFIX}")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSecret("after whsec_ a secret is base64") from exc
    if not 24 <= len(key) <= 64:
        raise InvalidSecret("a secret is 24 to 64 bytes (32 to 88 characters of base64)")
    return secret


def check_url(url: str, *, allow_private: bool) -> str:
    """A URL a webhook may be sent to: http(s), a host, no credentials, a public address literal.

    A host name is checked again when it is resolved, at each attempt (`check_addresses`).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"not a URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("only http and https URLs are called")
    if not parts.hostname:
        raise UnsafeUrl("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeUrl("credentials in a URL are not accepted; the signature authenticates")
    if port == 0:
        raise UnsafeUrl("port 0 is not a port")
    if not allow_private:
        if parts.hostname.lower() in ("localhost", "localhost.localdomain"):
            raise UnsafeUrl("a private address (localhost) is not allowed")
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            return url
        check_addresses([literal], allow_private=False)
    return url


def check_addresses(
    addresses: Iterable[ipaddress.IPv4Address | ipaddress.IPv6Address], *, allow_private: bool
) -> None:
    """Refuses addresses that are not public (loopback, private, link-local, metadata...)."""
    if allow_private:
        return
    for address in addresses:
        mapped = getattr(address, "ipv4_mapped", None)
        if not (mapped or address).is_global:
            raise UnsafeUrl(f"{address} is not a public address")


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: base x 2^(n-1), capped, then scaled by 50-100%."""

    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(hours=1)

    def delay(self, attempt: int, *, rng: random.Random | None = None) -> timedelta:
        """How long to wait after failed attempt number `attempt` (1 for the first)."""
        exponent = min(max(attempt - 1, 0), 40)  # 2^40 x base is past any cap
        ceiling: timedelta = min(self.cap, self.base * (2**exponent))
        # "Equal jitter": never less than half the step, so retries still spread out over the
        # whole retry window while receivers are not hit in lockstep.
        share = 0.5 + 0.5 * (rng or random).random()
        return ceiling * share


def after_failure(
    *,
    attempt: int,
    attempted_at: datetime,
    retry_from: datetime,
    max_age: timedelta,
    backoff: Backoff,
    rng: random.Random | None = None,
) -> datetime | None:
    """When to try again after a failed attempt, or None: retried for `max_age`, then failed."""
    if attempted_at - retry_from >= max_age:
        return None
    return attempted_at + backoff.delay(attempt, rng=rng)
