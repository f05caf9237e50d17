"""The request hash kept beside an idempotency key, for every app: a retry of the same request
hashes the same, any other request does not. One recipe, so two callers cannot disagree."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger.chain import canonical_json, canonical_time


def request_hash(payload: Mapping[str, Any]) -> str:
    """SHA-256 (lowercase hex) of `payload` as canonical JSON (sorted keys, no spaces, UTF-8).

    Decimals, UUIDs, dates and times are written as text (a datetime as canonical_time, in
    UTC), so "1.50" and "1.5" differ as the caller typed them; anything else JSON cannot write
    is a TypeError rather than a str() that might collide.
    """
    return hashlib.sha256(canonical_json(payload, default=_as_text).encode("utf-8")).hexdigest()


def _as_text(value: object) -> str:
    if isinstance(value, datetime):
        return canonical_time(value)
    if isinstance(value, Decimal | UUID | date | time):
        return str(value)
    raise TypeError(f"a request hash cannot include {type(value).__name__} {value!r}")
