"""The tables sla-monitor owns, all in the `sla` schema."""

from __future__ import annotations

from contact_common.db import declarative_base
from contact_common.inbox import inbox_table
from contact_common.outbox import outbox_table
from sla_monitor.outbox import ArrayOutbox

Base = declarative_base("sla")
metadata = Base.metadata

outbox_message = outbox_table(metadata)
outbox = ArrayOutbox(outbox_message)
inbox_message = inbox_table(metadata)
