"""The webhook rules on plain values: backoff, retry window, matching, payload, URL and secret."""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import orjson
import pytest
from standardwebhooks import Webhook

from contact_common.events import Channel, ContactType, SlaBreached, SlaBreachedData
from sla_monitor.webhooks.domain import (
    Backoff,
    InvalidSecret,
    Subscription,
    UnsafeUrl,
    after_failure,
    check_addresses,
    check_secret,
    check_url,
    delivery_id,
    matches,
    new_secret,
    payload_of,
)

T0 = datetime(2026, 6, 3, 9, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def _failing_schedule(backoff: Backoff, rng: random.Random) -> list[datetime]:
    """The attempt times of a delivery whose receiver never answers 2xx."""
    attempts, at, number = [], T0, 1
    while True:
        attempts.append(at)
        retry = after_failure(
            attempt=number, attempted_at=at, retry_from=T0, max_age=DAY, backoff=backoff, rng=rng
        )
        if retry is None:
            return attempts
        at, number = retry, number + 1


def test_backoff_doubles_to_the_cap_with_jitter_between_half_and_all_of_the_step() -> None:
    backoff = Backoff(base=timedelta(seconds=5), cap=timedelta(hours=1))
    rng = random.Random(7)
    for attempt, step in [(1, 5), (2, 10), (3, 20), (4, 40), (10, 2560), (11, 3600), (60, 3600)]:
        delays = [backoff.delay(attempt, rng=rng).total_seconds() for _ in range(200)]
        assert step / 2 <= min(delays) and max(delays) <= step
        assert max(delays) - min(delays) > step / 4  # jittered, not one fixed value


def test_a_failing_delivery_is_retried_for_24_hours_then_failed() -> None:
    attempts = _failing_schedule(Backoff(), random.Random(11))
    gaps = [later - earlier for earlier, later in zip(attempts, attempts[1:], strict=False)]
    # Retries never stop before the window: the last attempt is at least 24 h after the first,
    # and at most one capped step (1 h) past it.
    assert DAY <= attempts[-1] - T0 <= DAY + timedelta(hours=1)
    assert all(timedelta(seconds=2.5) <= gap <= timedelta(hours=1) for gap in gaps)
    assert gaps[0] <= timedelta(seconds=5) and gaps[-1] >= timedelta(minutes=30)
    assert 25 <= len(attempts) <= 60  # tens of attempts, not thousands
    # With other jitter the times differ, the window does not.
    other = _failing_schedule(Backoff(), random.Random(12))
    assert other[1:] != attempts[1:] and other[-1] - T0 >= DAY


def test_a_redelivery_starts_a_new_window() -> None:
    late = T0 + DAY + timedelta(hours=2)
    kept = dict(attempted_at=late, max_age=DAY, backoff=Backoff(), rng=random.Random(1))
    assert after_failure(attempt=40, retry_from=T0, **kept) is None
    retry = after_failure(attempt=1, retry_from=late, **kept)
    assert retry is not None and late < retry <= late + timedelta(seconds=5)


def test_matching_by_event_type_and_service_area() -> None:
    every_area = Subscription(uuid4(), ["sla.breached", "sla.at_risk"], [])
    waste = Subscription(uuid4(), ["sla.breached"], ["waste"])
    assert matches(every_area, event_type="sla.breached", service_area=None)
    assert matches(every_area, event_type="sla.at_risk", service_area="waste")
    assert not matches(every_area, event_type="sla.met", service_area="waste")
    assert matches(waste, event_type="sla.breached", service_area="waste")
    assert not matches(waste, event_type="sla.breached", service_area="parking")
    assert not matches(waste, event_type="sla.breached", service_area=None)


def test_a_delivery_id_is_stable_per_subscription_and_event() -> None:
    subscription, event = uuid4(), uuid4()
    assert delivery_id(subscription, event) == delivery_id(subscription, event)
    assert delivery_id(subscription, event) != delivery_id(uuid4(), event)
    assert delivery_id(subscription, event) != delivery_id(subscription, uuid4())


def _breach() -> SlaBreached:
    return SlaBreached.from_data(
        SlaBreachedData(
            clock_id=UUID(int=1),
            commitment="email-respond",
            contact_type=ContactType.enquiry,
            contact_id=UUID(int=2),
            channel=Channel.email,
            service_area="waste",
            started_at=T0,
            due_at=T0 + timedelta(days=3),
            breached_at=T0 + timedelta(days=3),
        ),
        source="/sla-monitor",
    )


def test_the_payload_has_ids_and_times_and_nothing_personal() -> None:
    event = _breach()
    body = orjson.loads(payload_of(event))
    assert body["type"] == "sla.breached"
    assert body["timestamp"] == "2026-06-06T09:00:00Z" == body["data"]["occurred_at"]
    assert body["data"] == {
        "event_id": str(event.id),
        "occurred_at": "2026-06-06T09:00:00Z",
        "clock_id": str(UUID(int=1)),
        "commitment": "email-respond",
        "contact_type": "enquiry",
        "contact_id": str(UUID(int=2)),
        "reference": None,  # sla-monitor has not heard of the contact
        "channel": "email",
        "service_area": "waste",
        "started_at": "2026-06-03T09:00:00Z",
        "due_at": "2026-06-06T09:00:00Z",
        "breached_at": "2026-06-06T09:00:00Z",
        "stopped_at": None,
    }


def test_the_payload_names_the_contacts_reference_when_known() -> None:
    body = orjson.loads(payload_of(_breach(), reference="ENQ-2026-000042"))
    assert body["data"]["reference"] == "ENQ-2026-000042"
    assert body["data"]["contact_id"] == str(UUID(int=2))


def test_a_signature_made_with_a_new_secret_verifies() -> None:
    secret = new_secret()
    assert check_secret(secret) == secret
    body = payload_of(_breach()).decode()
    now = datetime.now(UTC)  # the library checks the timestamp against the real time
    signature = Webhook(secret).sign("an-id", now, body)
    assert signature.startswith("v1,")
    headers = {
        "webhook-id": "an-id",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    assert Webhook(secret).verify(body, headers)["type"] == "sla.breached"


@pytest.mark.parametrize(
    "secret", ["abc", "whsec_", "whsec_not base64!", "whsec_c2hvcnQ=", "whsec_" + "QUFB" * 30]
)
def test_a_given_secret_must_be_a_standard_webhooks_secret(secret: str) -> None:
    with pytest.raises(InvalidSecret):
        check_secret(secret)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/hook",
        "file:///etc/passwd",
        "gopher://example.org",
        "https://",
        "https://user:pass@example.org/hook",
        "http://localhost:8080/hook",
        "http://127.0.0.1/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:192.168.0.1]/hook",
        "http://example.org:99999/hook",
    ],
)
def test_unsafe_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        check_url(url, allow_private=False)


def test_public_urls_pass_and_private_ones_when_allowed() -> None:
    assert check_url("https://alerts.example.org/hook", allow_private=False)
    assert check_url("http://93.184.215.14:8080/x", allow_private=False)
    assert check_url("http://127.0.0.1:9000/hook", allow_private=True)
    with pytest.raises(UnsafeUrl):
        check_url("ftp://127.0.0.1/hook", allow_private=True)
    with pytest.raises(UnsafeUrl):
        check_addresses([ipaddress.ip_address("192.168.1.10")], allow_private=False)
    check_addresses([ipaddress.ip_address("8.8.8.8")], allow_private=False)
