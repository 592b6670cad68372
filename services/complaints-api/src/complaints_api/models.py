"""The tables complaints-api owns, all in the `complaints` schema."""

from __future__ import annotations

from contact_common.db import declarative_base
from contact_common.idempotency import idempotency_table
from contact_common.outbox import Outbox, outbox_table

Base = declarative_base("complaints")
metadata = Base.metadata

outbox_message = outbox_table(metadata)
outbox = Outbox(outbox_message)
# The Idempotency-Key of every POST, with the answer a retry gets (contact_common.idempotency).
idempotency_key = idempotency_table(metadata)
