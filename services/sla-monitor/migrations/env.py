"""Alembic environment of sla-monitor: its own history in the `sla` schema."""

from contact_common.migrations import run_env
from sla_monitor.models import metadata

run_env(metadata)
