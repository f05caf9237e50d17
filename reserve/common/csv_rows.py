"""Reading operator CSV files (header checks, line numbers, errors that name line and field) and
writing cells a spreadsheet will not run as formulas."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from config.errors import ApplicationError, ValidationFailed
from ledger.secrets import PRIVATE_KEY_EXPLANATION, private_key_in

_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def csv_cell(value: Any) -> Any:
    """Neutralise text a spreadsheet would run as a formula (memos and labels are operator input):
    a cell starting with = + - @ (or a tab or carriage return) that is not a number gets a leading '."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") and not _NUMBER.match(value):
        return "'" + value
    return value


def line_error(*, line: int, field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"line {line}, {field}: {message}", fields={field: [f"line {line}: {message}"]})


def relabel(error: ApplicationError, *, line: int, columns: dict[str, str]) -> ValidationFailed:
    """Re-raise a service error as one naming the CSV line and column (`columns` maps field -> column)."""
    field = next(iter(error.fields), "row")
    column = columns.get(field.split("[")[0], field)
    message = error.fields[field][0] if error.fields else error.message
    return line_error(line=line, field=column, message=message)


def read_rows(
    *, text: str | Iterable[str], required: tuple[str, ...], optional: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row with stripped values) for every non-blank data line; the header is line 1."""
    lines = io.StringIO(text) if isinstance(text, str) else text
    reader = csv.DictReader(lines)
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in required if name not in header]
    if missing:
        raise line_error(line=1, field=missing[0], message=f"missing column (the header needs {', '.join(required)})")
    unknown = [name for name in header if name not in required and name not in optional]
    if unknown:
        raise line_error(line=1, field=unknown[0], message=f"unknown column; allowed: {', '.join(required + optional)}")
    reader.fieldnames = header
    for row in reader:
        line = reader.line_num
        if None in row:
            raise line_error(line=line, field="row", message="has more values than the header has columns")
        values = {name: (value or "").strip() for name, value in row.items()}
        for name, value in values.items():
            # No cell of any file carries a key (hex cells may be txids; free-text columns get
            # the full rule from the record they fill, reserve/common/free_text.py).
            found = private_key_in(value, hex32=False)
            if found:
                raise line_error(line=line, field=name, message=f"{found}: {PRIVATE_KEY_EXPLANATION}")
        if any(values.values()):
            yield line, values


def parse_time(*, value: str, line: int, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise line_error(line=line, field=field, message=f"{value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise line_error(
            line=line, field=field, message=f"{value!r} has no time zone; add Z or an offset such as +00:00"
        )
    return parsed
