"""The sealer: appends committed journal transactions to the log in commit order and signs a head.

Postings take their order number from ledger_journal_sequence without any ledger-wide lock,
so numbers are handed out in one order and committed in another, and a number may never
commit at all. The sealer therefore seals up to a horizon that no running posting can
still fall below:

1. read H, the last number handed out; then take X, a transaction id of the sealer's own. A
   posting takes its transaction id before its number (ledger_append), so every posting that
   holds a number <= H has an id below X;
2. wait until the xmin of a fresh snapshot reaches X: no transaction with an id below X is
   still running, so every number <= H is now committed and visible, or rolled back and gone.
   (Not "no id below the snapshot's xmax in its running list": xmax is only the latest
   *completed* id + 1, and a running posting whose id lies above it is in no list at all);
3. under the sealer lock, append the queued transactions numbered <= H, in number order.

Number order is commit order where it matters: a posting that started after another
committed has a higher number, and two postings of one account take their numbers under
that account's row lock. A row inserted by hand with a number below an earlier horizon is
sealed at the next round, after what was sealed before it. A long-running writer holds the
horizon (and the sealing lag) back until it ends.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from django.db import connection, transaction

from ledger.chain import CHAIN_LOCK_CLASS
from ledger.log import merkle
from ledger.log.heads import TreeHead, head_sign
from ledger.log.selectors import latest_signed_head, stored_nodes
from ledger.models import LogLeaf, LogNode, LogPending, SignedTreeHead
from ledger.signing import signing_key

# pg_advisory_xact_lock(int4, int4): ('LEDG', 3) = the sealer; ledger/sql/0008 takes it for raw inserts too.
SEAL_LOCK_ID = 3
SEAL_BATCH = 20_000
HORIZON_POLL_SECONDS = 0.002


@dataclass(frozen=True)
class SealResult:
    sealed: int
    tree_size: int
    head: TreeHead | None


def _horizon(timeout_seconds: float) -> int | None:
    """The highest number every posting at or below which has ended, or None if one ran past the
    timeout. Call it outside a transaction: its own transaction id is the bar the others must pass."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM ledger_journal_sequence"
        )
        (handed_out,) = cursor.fetchone()
        cursor.execute("SELECT pg_current_xact_id()::text")
        (own,) = cursor.fetchone()
        deadline = time.monotonic() + timeout_seconds
        while True:
            # Read committed: each statement takes a fresh snapshot, whose xmin is the oldest id still running.
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot()) >= %s::xid8", [own])
            if cursor.fetchone()[0]:
                return int(handed_out)
            if time.monotonic() > deadline:
                return None
            time.sleep(HORIZON_POLL_SECONDS)


def seal_log(*, horizon_timeout_seconds: float = 5.0) -> SealResult:
    """Seal what is committed up to the horizon and sign the new head (also the empty log's first head)."""
    horizon = _horizon(horizon_timeout_seconds)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [CHAIN_LOCK_CLASS, SEAL_LOCK_ID])
            cursor.execute("SELECT coalesce(max(index) + 1, 0) FROM ledger_logleaf")
            (size,) = cursor.fetchone()
            rows: list[tuple[uuid.UUID, str]] = []
            if horizon is not None:
                cursor.execute(
                    "SELECT p.transaction_id, t.hash FROM ledger_logpending p"
                    " JOIN ledger_journaltransaction t ON t.id = p.transaction_id"
                    " WHERE p.sequence <= %s ORDER BY p.sequence, p.transaction_id LIMIT %s",
                    [horizon, SEAL_BATCH],
                )
                rows = cursor.fetchall()
        latest = latest_signed_head()
        if not rows and latest is not None:
            return SealResult(sealed=0, tree_size=size, head=None)
        nodes = stored_nodes(merkle.range_nodes(0, size)) if size else {}
        leaves: list[LogLeaf] = []
        inner: list[LogNode] = []
        for transaction_id, transaction_hash in rows:
            leaf = merkle.leaf_hash(bytes.fromhex(transaction_hash))
            leaves.append(LogLeaf(index=size, transaction_id=transaction_id, leaf_hash=leaf.hex()))
            nodes[(0, size)] = leaf
            for (level, index), node in merkle.new_nodes(size, leaf, nodes.__getitem__):
                nodes[(level, index)] = node
                inner.append(LogNode(level=level, index=index, hash=node.hex()))
            size += 1
        LogLeaf.objects.bulk_create(leaves, batch_size=2000)
        LogNode.objects.bulk_create(inner, batch_size=2000)
        LogPending.objects.filter(transaction_id__in=[leaf.transaction_id for leaf in leaves]).delete()
        if latest is not None and latest.tree_size == size:
            return SealResult(sealed=len(leaves), tree_size=size, head=None)
        head = head_sign(
            signing_key(),
            tree_size=size,
            root_hex=merkle.range_hash(0, size, nodes).hex(),
            timestamp_ms=max(int(time.time() * 1000), latest.timestamp_ms if latest else 0),
        )
        SignedTreeHead.objects.create(
            tree_size=head.tree_size,
            root_hash=head.root_hash,
            timestamp_ms=head.timestamp_ms,
            key_id=head.key_id,
            signature=head.signature,
        )
    return SealResult(sealed=len(leaves), tree_size=size, head=head)
