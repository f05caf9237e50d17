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

Transactions posted before the transparency log (migration 0008) are chained: the first
prev_hash is GENESIS_HASH (64 zeros), each next one names its predecessor's hash, and the
sequence is gapless. Since then prev_hash is "" and the sequence comes from
ledger_journal_sequence (gaps where a posting rolled back): the order and the
tamper-evidence outside the database are the log's (ledger/log/, docs/LEDGER.md), whose
leaf is the RFC 9162 leaf hash of this hash. Entries name accounts by their permanent
code, not their database id, so a dump verifies without ids. The content digest is
computed by the application before the position is known; the link step binds it to its
number and times.

Concurrency. No ledger-wide lock: ledger_append locks the posting's balance rows in pk
order, takes its transaction id and then its number (so two postings of one account are
numbered in their commit order, which running balances need) and inserts; outside a
caller's transaction PostgreSQL commits that statement at once. The chain lock this
replaced was held through every commit's WAL flush (0.15-0.28 of pgbench at 8 clients).

A trigger (ledger/sql/0008_ledger_transparency_log.sql) refuses any new row, raw SQL
included, that is chained or whose number ledger_journal_sequence did not hand out.
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

# pg_advisory_xact_lock(int4, int4) keys: ('LEDG', n); n = 1 was the chain head, 2 the checkpoint
# refresh (ledger/services/checkpoints.py), 3 the log's sealer (ledger/log/sealer.py).
CHAIN_LOCK_CLASS = 0x4C454447


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


def journal_numbers(count: int) -> tuple[list[int], datetime]:
    """`count` order numbers and the posting time for a batch whose accounts are already locked.

    The transaction id is taken before the numbers: the sealer's horizon relies on it
    (ledger/log/sealer.py).
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()")
        cursor.execute("SELECT nextval('ledger_journal_sequence') FROM generate_series(1, %s)", [count])
        numbers = sorted(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT clock_timestamp()")
        (now,) = cursor.fetchone()
    return numbers, now


@dataclass(frozen=True)
class Appended:
    """What ledger_append did: either found `replayed_id` under the key, or appended at this position."""

    replayed_id: uuid.UUID | None
    sequence: int
    prev_hash: str
    hash: str
    posted_at: datetime
    occurred_at: datetime


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
            "SELECT * FROM ledger_append(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, "
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
