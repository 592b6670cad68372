"""Tables as CSV: a header row, one line per row, that a spreadsheet opens as it is."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from enum import Enum
from typing import Any

from fastapi import Response
from pydantic import BaseModel

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
CSV_RESPONSE = {
    "description": "The table as CSV (`?format=csv`): a header row, then one line per row.",
    "content": {"text/csv": {"schema": {"type": "string"}}},
}


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return int(value)  # 3, not 3.0: counts read as counts in a spreadsheet
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def csv_text(rows: Sequence[BaseModel], model: type[BaseModel], *, period: str | None) -> str:
    """The rows as CSV, each led by the period's label when there is one."""
    columns = list(model.model_fields)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow((["period"] if period else []) + columns)
    for row in rows:
        cells = [_cell(getattr(row, column)) for column in columns]
        writer.writerow(([period] if period else []) + cells)
    return buffer.getvalue()


def csv_response(
    rows: Sequence[BaseModel], model: type[BaseModel], *, name: str, period: str | None
) -> Response:
    """A CSV download named after the table and period."""
    filename = f"{name}-{period}.csv" if period else f"{name}.csv"
    filename = filename.replace("..", "_to_")
    return Response(
        csv_text(rows, model, period=period),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def table_response(
    result: Any, model: type[BaseModel], *, csv: bool, name: str, period: str | None
) -> Any:
    """An endpoint's answer: the result as it is (JSON), or its rows as a CSV download."""
    return csv_response(result.rows, model, name=name, period=period) if csv else result
