"""CSV for reports and lists (`?format=csv`), JSON Lines for the BIP-329 label export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import BaseRenderer

from reserve.common.csv_rows import csv_cell

LIST_KEYS = ("results", "rows")
PAGE_KEYS = ("count", "next", "previous")


def _flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, list):
            flat[name] = csv_cell(json.dumps(value, sort_keys=True, default=str))
        else:
            flat[name] = "" if value is None else csv_cell(value)
    return flat


def csv_table(data: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows): a list's items, or a report's rows each carrying the report's own fields
    (as_of, height, block_hash, ...), so every CSV line says where it stands."""
    if isinstance(data, list):
        rows, context = data, {}
    elif isinstance(data, Mapping) and "results" in data:
        rows = data["results"]
        context = _flatten({key: value for key, value in data.items() if key not in (*LIST_KEYS, *PAGE_KEYS)})
    elif isinstance(data, Mapping) and "rows" in data:
        rows = data["rows"]
        context = _flatten({key: value for key, value in data.items() if key not in LIST_KEYS})
    else:
        rows, context = [data], {}
    flat_rows = [context | _flatten(row) for row in rows]
    columns = list(dict.fromkeys([*context, *(column for row in flat_rows for column in row)]))
    return columns, flat_rows


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if data is None:
            return b""
        columns, rows = csv_table(data)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue().encode("utf-8")


class JSONLinesRenderer(BaseRenderer):
    """One JSON object per line (BIP-329 label files are JSON Lines)."""

    media_type = "application/jsonl"
    format = "jsonl"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        records = data if isinstance(data, list) else [data]
        return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records).encode("utf-8")
