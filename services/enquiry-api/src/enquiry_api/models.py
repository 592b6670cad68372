"""The tables enquiry-api owns, all in the `enquiry` schema."""

from __future__ import annotations

from contact_common.db import declarative_base
from contact_common.outbox import Outbox, outbox_table

Base = declarative_base("enquiry")
metadata = Base.metadata

outbox_message = outbox_table(metadata)
outbox = Outbox(outbox_message)
