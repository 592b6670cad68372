"""Alembic environment of complaints-api: its own history in the `complaints` schema."""

import complaints_api.complaints.models  # noqa: F401 - registers the complaint tables
from complaints_api.models import metadata
from contact_common.migrations import run_env

run_env(metadata)
