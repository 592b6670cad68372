"""Rules of the standby contractor's batches, on plain values: CSV reading and follow-ups."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

REQUIRED_COLUMNS = (
    "record_id",
    "call_started_at",
    "answered_at",
    "ended_at",
    "category",
    "service_area",
    "action_taken",
    "requires_follow_up",
)
OPTIONAL_COLUMNS = ("caller_phone", "notes")


class BatchUnreadable(Exception):
    """The batch as a whole cannot be read (not a list, not CSV, missing columns)."""


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One record of a batch as sent, with where it was (position, and CSV line)."""

    position: int
    fields: Any
    line: int | None = None


def read_csv(text: str) -> list[BatchItem]:
    """The records of a CSV batch: a header row naming the fields, then one record a row.

    Empty cells are left out (an absent optional field); a row with more cells than the header
    keeps the extras under `None`, which the record's validation refuses.
    """
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="_extra_cells")
    try:
        header = reader.fieldnames
    except csv.Error as error:
        raise BatchUnreadable(f"the CSV cannot be read: {error}") from None
    if not header:
        return []
    columns = [name.strip().lower() for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise BatchUnreadable(
            "the CSV header lacks the columns: "
            + ", ".join(missing)
            + "; the first row must name the fields: "
            + ", ".join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
        )
    reader.fieldnames = columns
    items: list[BatchItem] = []
    try:
        for row in reader:
            fields = {
                key: value.strip() if isinstance(value, str) else value
                for key, value in row.items()
                if value not in (None, "") and not (isinstance(value, str) and not value.strip())
            }
            if not fields:
                continue  # a blank line
            items.append(BatchItem(position=len(items), fields=fields, line=reader.line_num))
    except csv.Error as error:
        raise BatchUnreadable(
            f"the CSV cannot be read at line {reader.line_num}: {error}"
        ) from None
    return items


def follow_up_description(*, category: str, action_taken: str, notes: str | None) -> str:
    """The description of the enquiry a standby call opens for the service area."""
    text = f"Out-of-hours standby call ({category}). Action taken: {action_taken}"
    if notes:
        text += f" Notes: {notes}"
    return text


def record_id_of(fields: Any) -> str | None:
    """The record_id a record gives, if it gives one as text, for the per-record answer."""
    if isinstance(fields, dict):
        value = fields.get("record_id")
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)[:128]
    return None
