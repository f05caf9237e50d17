"""The hash chain: canonical serialization of a journal transaction and the link hash.

Recipe (what an outside verifier reproduces; ledger/sql/0003_ledger_append.sql does the
link step in PostgreSQL, verify_chain() does both steps in Python):

    content = {
      "id": "<uuid, lowercase hex with dashes>", "idempotency_key": str, "request_hash": str,
      "kind": str, "memo": str, "block_height": int | null, "block_hash": str | null,
      "txid": str | null, "metadata": <the stored JSON object>, "reverses": "<uuid>" | null,
      "created_by": int | null,
      "entries": [{"account": "<account code>", "amount_sats": int, "currency": str}, ...]
                  sorted by (account, amount_sats),
    }
    content_digest = SHA-256(JSON of content with sorted keys, separators (",", ":"),
                             UTF-8, no NaN/Infinity), lowercase hex
    hash = SHA-256("{prev_hash}|{sequence}|{occurred_at}|{posted_at}|{content_digest}"), hex
           times as ISO 8601 in UTC with microseconds and "Z": 2025-01-31T12:00:00.000000Z

The first transaction's prev_hash is GENESIS_HASH (64 zeros). Entries name accounts by
their permanent code, not their database id, so a dump verifies without ids. The content
digest is computed by the application before the chain position is known; the link step
binds it to its position, times and predecessor.

Concurrency. A single chain is a total order, so something must serialize. Here it is
only the tail of a posting: validation and the content digest happen first, in
parallel; then one statement (ledger_append) locks the accounts' balance rows in pk
order, takes a transaction-scoped advisory lock, reads the head, inserts the
transaction and its entries; outside a caller's transaction PostgreSQL commits that
statement at once, so the lock covers the inserts and the commit's WAL flush and no
client round trip. Measured (docs/PERFORMANCE.md, ledger section): at 1 client the
chain costs nothing measurable; at 8 clients on 2 vCPUs it costs a fifth to a half of the
throughput against the same code with the lock replaced by a plain sequence, because
the commit flush is inside it. Per-batch chaining (post unchained, seal committed
batches later) would remove that, at the price of a window in which the newest postings
are not yet tamper-evident and of sequence order no longer being commit order, which
the per-account running balances rely on. It was not built: a posting that is
tamper-evident the moment it commits was kept over the measured cost.

A trigger (ledger/sql/0005_ledger_chain_link_guard.sql) takes the same lock and refuses
any inserted row, raw SQL included, whose sequence is not the head's + 1 or whose
prev_hash is not the head's hash; only the hash itself is left to verify_chain().
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
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


def canonical_json(value: Any, *, default: Callable[[Any], Any] | None = None) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=default
    )


def transaction_content(
    *,
    id: str,
    idempotency_key: str,
    request_hash: str,
    kind: str,
    memo: str,
    block_height: int | None,
    block_hash: str | None,
    txid: str | None,
    metadata: Mapping[str, Any],
    reverses: str | None,
    created_by: int | None,
    entries: Iterable[tuple[str, int, str]],
) -> dict[str, Any]:
    """The dict whose digest is chained; entries are (account code, amount_sats, currency)."""
    return {
        "id": id,
        "idempotency_key": idempotency_key,
        "request_hash": request_hash,
        "kind": kind,
        "memo": memo,
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


def content_digest(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def link_hash(*, prev_hash: str, sequence: int, occurred_at: datetime, posted_at: datetime, digest: str) -> str:
    material = f"{prev_hash}|{sequence}|{canonical_time(occurred_at)}|{canonical_time(posted_at)}|{digest}"
    return hashlib.sha256(material.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class ChainLink:
    sequence: int
    prev_hash: str
    posted_at: datetime


def chain_next_link() -> ChainLink:
    """Take the chain lock and return the next position (the batch import's chain step).

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


@dataclass(frozen=True)
class Appended:
    """What ledger_append did: either found `replayed_id` under the key, or appended at this position."""

    replayed_id: uuid.UUID | None
    sequence: int
    prev_hash: str
    hash: str
    posted_at: datetime
    occurred_at: datetime


# The SQL function a posting's chain step calls (bench/ledger_posting.py swaps in an unchained one).
APPEND_FUNCTION = "ledger_append"


def chain_append(
    *,
    id: uuid.UUID,
    idempotency_key: str,
    request_hash: str,
    occurred_at: datetime | None,
    block_height: int | None,
    block_hash: str | None,
    txid: str | None,
    kind: str,
    memo: str,
    metadata: Mapping[str, Any],
    reverses: uuid.UUID | None,
    created_by: int | None,
    digest: str,
    entries: Sequence[tuple[int, int, str]],
) -> Appended:
    """Append one posting (entries are (account_id, amount_sats, currency), inserted in order)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM {APPEND_FUNCTION}(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, "
            "%s::bigint[], %s::bigint[], %s::text[])",
            [
                id,
                idempotency_key,
                request_hash,
                occurred_at,
                block_height,
                block_hash,
                txid,
                kind,
                memo,
                canonical_json(metadata),
                reverses,
                created_by,
                digest,
                [account_id for account_id, _, _ in entries],
                [amount for _, amount, _ in entries],
                [currency for _, _, currency in entries],
            ],
        )
        replayed_id, sequence, prev_hash, hash_, posted_at, occurred = cursor.fetchone()
    return Appended(replayed_id, sequence, prev_hash, hash_, posted_at, occurred)
