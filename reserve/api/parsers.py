"""How the API reads request bodies: JSON only, refused by name when it holds a NUL character or nests too deeply."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 32  # no request of this API nests deeper than a few levels


def _refusal(value: Any) -> tuple[str, str] | None:
    """(where, why) a parsed JSON body cannot be taken: a NUL character in a key or string
    (PostgreSQL stores none in text or jsonb), or nesting past MAX_JSON_DEPTH. Iterative, so a
    hostile body cannot exhaust the stack."""
    pending: list[tuple[Any, str, int]] = [(value, "", 0)]
    while pending:
        item, path, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            return path, f"nests deeper than {MAX_JSON_DEPTH} levels"
        if isinstance(item, str) and "\x00" in item:
            return path, "must not contain the NUL character"
        if isinstance(item, dict):
            for key, child in item.items():
                name = f"{path}.{key}" if path else str(key)
                if "\x00" in str(key):
                    return name, "must not contain the NUL character"
                pending.append((child, name, depth + 1))
        elif isinstance(item, list):
            pending.extend((child, f"{path}[{index}]", depth + 1) for index, child in enumerate(item))
    return None


class StrictJSONParser(JSONParser):
    """JSON bodies, refused by name when they hold a NUL character or nest too deeply (a body
    nested thousands of levels deep would otherwise exhaust the parser's stack: a 500)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nests deeper than {MAX_JSON_DEPTH} levels") from None
        refusal = _refusal(data)
        if refusal is not None:
            raise serializers.ValidationError({refusal[0] or "non_field_errors": [refusal[1]]})
        return data
