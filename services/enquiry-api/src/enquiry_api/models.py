"""The tables enquiry-api owns, all in the `enquiry` schema."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from contact_common.db import TableModels, service_metadata
from contact_common.idempotency import idempotency_table
from contact_common.outbox import Outbox, outbox_table


class Base(TableModels, DeclarativeBase):
    """The declarative base of this service's models (a class statement, so mypy sees a class)."""

    metadata = service_metadata("enquiry")


metadata = Base.metadata

outbox_message = outbox_table(metadata)
outbox = Outbox(outbox_message)
# The Idempotency-Key of every POST, with the answer a retry gets (contact_common.idempotency).
idempotency_key = idempotency_table(metadata)


def load_all_tables() -> None:
    """Imports every domain's models, so `metadata` holds every table (migrations, tests)."""
    from enquiry_api.calls import models as _calls  # noqa: F401
    from enquiry_api.enquiries import models as _enquiries  # noqa: F401
    from enquiry_api.feedback import models as _feedback  # noqa: F401
    from enquiry_api.open311 import models as _open311  # noqa: F401
    from enquiry_api.standby import models as _standby  # noqa: F401
    from enquiry_api.visits import models as _visits  # noqa: F401
