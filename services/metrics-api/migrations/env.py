"""Alembic environment of metrics-api: its own history in the `metrics` schema."""

import metrics_api.readmodel.models  # noqa: F401  (registers the read model tables)
from contact_common.migrations import run_env
from metrics_api.models import metadata

run_env(metadata)
