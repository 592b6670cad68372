"""Alembic environment of enquiry-api: its own history in the `enquiry` schema."""

from contact_common.migrations import run_env
from enquiry_api.models import load_all_tables, metadata

load_all_tables()
run_env(metadata)
