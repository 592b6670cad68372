"""Alembic environment of sla-monitor: its own history in the `sla` schema."""

import sla_monitor.alerts.models  # noqa: F401  (registers the alert tables on the metadata)
import sla_monitor.clocks.models  # noqa: F401  (registers the clock tables on the metadata)
import sla_monitor.webhooks.models  # noqa: F401  (and the webhook tables)
from contact_common.migrations import run_env
from sla_monitor.models import metadata

run_env(metadata)
