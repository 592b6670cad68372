"""The tables sla-monitor owns, all in the `sla` schema."""

from __future__ import annotations

from contact_common.db import declarative_base
from contact_common.inbox import inbox_table
from contact_common.outbox import Outbox, outbox_table

Base = declarative_base("sla")
metadata = Base.metadata

outbox_message = outbox_table(metadata)
outbox = Outbox(outbox_message)
inbox_message = inbox_table(metadata)
