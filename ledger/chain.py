"""The hash chain: canonical serialization of a journal transaction and the link hash.

Canonical form (what an outside verifier must reproduce):

    content = {
      "id": "<uuid, lowercase hex with dashes>", "sequence": <int>,
      "idempotency_key": str, "request_hash": str, "kind": str, "memo": str,
      "occurred_at": ISO-8601 in UTC with microseconds and "Z", "posted_at": same,
      "block_height": int | null, "block_hash": str | null, "txid": str | null,
      "metadata": <the stored JSON object>, "reverses": "<uuid>" | null, "created_by": int | null,
      "entries": [{"account": "<account code>", "amount_sats": int, "currency": str}, ...]
                  sorted by (account, amount_sats),
    }
    bytes = JSON with sorted keys, separators (",", ":"), UTF-8, no NaN/Infinity
    hash  = SHA-256( prev_hash as 64 lowercase hex ASCII characters || bytes ), hex

The first transaction's prev_hash is GENESIS_HASH (64 zeros). Entries name accounts by
their permanent code, not their database id, so a dump can be verified without ids.

Concurrency. Sequence, posted_at and hash are assigned by `chain_next_link` under one
transaction-scoped advisory lock taken as the *last* step of a posting, after
validation and the account row locks, so the lock covers only: read head, insert the
transaction row and its entries, commit. That serializes the tail of every posting
(a total order is what a single chain is) but nothing else; docs/PERFORMANCE.md
measures it against the same code with the lock removed. The alternative, per-batch
chaining (post unchained, seal batches later), keeps postings lock-free but leaves a
window in which the newest postings are not yet tamper-evident and makes sequence
differ from commit order; the measured cost of the short lock did not justify that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection

from ledger.models import GENESIS_HASH

# pg_advisory_xact_lock(int4, int4) keys: ('LEDG', 1) = the chain head.
CHAIN_LOCK_CLASS = 0x4C454447
CHAIN_LOCK_ID = 1


def canonical_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def transaction_content(
    *,
    id: str,
    sequence: int,
    idempotency_key: str,
    request_hash: str,
    kind: str,
    memo: str,
    occurred_at: datetime,
    posted_at: datetime,
    block_height: int | None,
    block_hash: str | None,
    txid: str | None,
    metadata: Mapping[str, Any],
    reverses: str | None,
    created_by: int | None,
    entries: Iterable[tuple[str, int, str]],
) -> dict[str, Any]:
    """The dict that is hashed; entries are (account code, amount_sats, currency)."""
    return {
        "id": id,
        "sequence": sequence,
        "idempotency_key": idempotency_key,
        "request_hash": request_hash,
        "kind": kind,
        "memo": memo,
        "occurred_at": canonical_time(occurred_at),
        "posted_at": canonical_time(posted_at),
        "block_height": block_height,
        "block_hash": block_hash,
        "txid": txid,
        "metadata": dict(metadata),
        "reverses": reverses,
        "created_by": created_by,
        "entries": [
            {"account": code, "amount_sats": amount, "currency": currency}
            for code, amount, currency in sorted(entries, key=lambda e: (e[0], e[1]))
        ],
    }


def link_hash(*, prev_hash: str, content: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(content).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainLink:
    sequence: int
    prev_hash: str
    posted_at: datetime


def chain_next_link() -> ChainLink:
    """Take the chain lock and return the next position; call inside the posting's transaction.

    The lock is transaction-scoped, so it is held until the caller's outermost commit.
    The head is read in a statement of its own after the lock is granted: under READ
    COMMITTED that statement's snapshot already sees the previous holder's commit.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [CHAIN_LOCK_CLASS, CHAIN_LOCK_ID])
        cursor.execute(
            "SELECT h.sequence, h.hash, clock_timestamp() FROM (SELECT 1) one "
            "LEFT JOIN LATERAL (SELECT sequence, hash FROM ledger_journaltransaction "
            "ORDER BY sequence DESC LIMIT 1) h ON true"
        )
        sequence, head_hash, now = cursor.fetchone()
    return ChainLink(sequence=(sequence or 0) + 1, prev_hash=head_hash or GENESIS_HASH, posted_at=now)
