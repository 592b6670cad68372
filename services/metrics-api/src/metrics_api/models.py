"""The tables metrics-api owns, all in the `metrics` schema."""

from __future__ import annotations

from contact_common.db import declarative_base
from contact_common.inbox import inbox_table

Base = declarative_base("metrics")
metadata = Base.metadata

inbox_message = inbox_table(metadata)
