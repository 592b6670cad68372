"""The worklist as CSV: a header row, one line per open clock, that a spreadsheet opens."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from enum import Enum

from sla_monitor.worklist.schemas import WorklistItem

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
COLUMNS = tuple(WorklistItem.model_fields)


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return value


def csv_text(items: Sequence[WorklistItem]) -> str:
    """The items as CSV, columns in the JSON's order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for item in items:
        writer.writerow([_cell(getattr(item, column)) for column in COLUMNS])
    return buffer.getvalue()
