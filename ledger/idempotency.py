"""The request hash kept beside an idempotency key, for every app: a retry of the same request
hashes the same, any other request does not. One recipe, so two callers cannot disagree."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from config.errors import ValidationFailed
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


# The namespaces the services write their own keys in (observed chain movements, postings of a
# transfer or discrepancy, rows of a historical import). Every key a service makes for itself
# starts with one of these; a key a client chose starts with none of them (client_key_check), so
# the two can never meet under one unique index.
RESERVED_PREFIXES = ("observed:", "reserve:", "import:", "internal:")


def client_key_check(key: str, *, field: str, max_length: int = 255) -> str:
    """`key` as a client may use it, stripped; ValidationFailed naming `field` if it is empty, too
    long, not printable, or in a namespace the services reserve for themselves (any case)."""
    if not isinstance(key, str) or not key.strip():
        raise ValidationFailed.for_field(field, "must be a non-empty key")
    key = key.strip()
    if len(key) > max_length or not key.isprintable():
        raise ValidationFailed.for_field(field, f"must be printable text of at most {max_length} characters")
    folded = key.casefold()
    for prefix in RESERVED_PREFIXES:
        if folded.startswith(prefix):
            raise ValidationFailed.for_field(
                field, f"may not start with {prefix!r}: that namespace is reserved for the service's own keys"
            )
    return key
