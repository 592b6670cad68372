"""Prometheus metrics for operations (the shared consumer already exports `consumer_lag`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from metrics_api.readmodel.service import Applied

BREACHES_OPEN = Gauge(
    "metrics_breaches_open", "Breached commitments with no stop yet, by commitment", ["commitment"]
)
EVENTS_APPLIED = Counter(
    "metrics_events_applied_total", "Events counted into the read models", ["group", "type"]
)
EVENTS_DUPLICATE = Counter(
    "metrics_events_duplicate_total", "Events seen before and skipped (the inbox)", ["group"]
)


def record_batch(group: str, outcome: Applied) -> None:
    """Counts what a batch applied and skipped."""
    for event_type, count in outcome.applied.items():
        EVENTS_APPLIED.labels(group, event_type).inc(count)
    if outcome.duplicates:
        EVENTS_DUPLICATE.labels(group).inc(outcome.duplicates)


def set_open_breaches(counts: dict[str, int]) -> None:
    """Sets the open-breach gauge from the read model (commitments with none drop out)."""
    BREACHES_OPEN.clear()
    for commitment, count in counts.items():
        BREACHES_OPEN.labels(commitment).set(count)
