"""Reads of the transparency log: signed heads, inclusion and consistency proofs, its full verification."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction

from config.errors import NotFound, ValidationFailed
from ledger.log import merkle
from ledger.log.heads import TreeHead, key_id
from ledger.models import JournalTransaction, LogLeaf, LogPending, SignedTreeHead
from ledger.signing import signing_key


def _head(row: SignedTreeHead) -> TreeHead:
    return TreeHead(
        tree_size=row.tree_size,
        root_hash=row.root_hash,
        timestamp_ms=row.timestamp_ms,
        signature=row.signature,
        key_id=row.key_id,
    )


def latest_signed_head() -> TreeHead | None:
    """The newest signed tree head (size, root hex, timestamp, signature, key id), or None before the first."""
    row = SignedTreeHead.objects.order_by("-tree_size").first()
    return _head(row) if row is not None else None


def head_at(tree_size: int) -> TreeHead:
    row = SignedTreeHead.objects.filter(tree_size=tree_size).first()
    if row is None:
        raise NotFound(f"no signed tree head of size {tree_size}", fields={"tree_size": ["no signed head"]})
    return _head(row)


def stored_nodes(needed: Iterable[merkle.Node]) -> dict[merkle.Node, bytes]:
    """The hashes of the named complete subtrees (level 0: leaves) in two queries."""
    wanted = set(needed)
    leaves = [index for level, index in wanted if level == 0]
    inner = [(level, index) for level, index in wanted if level > 0]
    found: dict[merkle.Node, bytes] = {}
    for index, leaf_hash in LogLeaf.objects.filter(index__in=leaves).values_list("index", "leaf_hash"):
        found[(0, index)] = bytes.fromhex(leaf_hash)
    if inner:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT n.level, n.index, n.hash FROM ledger_lognode n"
                " JOIN unnest(%s::smallint[], %s::bigint[]) AS w(level, index) USING (level, index)",
                [[level for level, _ in inner], [index for _, index in inner]],
            )
            for level, index, node_hash in cursor.fetchall():
                found[(level, index)] = bytes.fromhex(node_hash)
    missing = wanted - found.keys()
    if missing:
        raise LookupError(f"log nodes missing: {sorted(missing)[:5]}")
    return found


def _proof(ranges: list[merkle.Range]) -> list[str]:
    nodes = stored_nodes(node for start, end in ranges for node in merkle.range_nodes(start, end))
    return [merkle.range_hash(start, end, nodes).hex() for start, end in ranges]


def _signed_size(tree_size: int | None, field: str) -> TreeHead:
    if tree_size is None:
        head = latest_signed_head()
        if head is None:
            raise NotFound("the log has no signed head yet", fields={field: ["no signed head"]})
        return head
    if isinstance(tree_size, bool) or not isinstance(tree_size, int) or tree_size < 0:
        raise ValidationFailed.for_field(field, "must be a non-negative integer")
    try:
        return head_at(tree_size)
    except NotFound:
        raise NotFound(f"no signed tree head of size {tree_size}", fields={field: ["no signed head"]}) from None


@dataclass(frozen=True)
class InclusionProof:
    transaction_id: uuid.UUID
    leaf_index: int
    leaf_hash: str
    head: TreeHead
    path: list[str]


def inclusion_proof(*, transaction_id: uuid.UUID, tree_size: int | None = None) -> InclusionProof:
    """The audit path of a journal transaction's leaf in the signed head of `tree_size` (default: latest)."""
    leaf = LogLeaf.objects.filter(transaction_id=transaction_id).first()
    if leaf is None:
        if JournalTransaction.objects.filter(pk=transaction_id).exists():
            raise NotFound("the transaction is not sealed into the log yet", fields={"transaction": ["not sealed yet"]})
        raise NotFound("no such journal transaction", fields={"transaction": ["not found"]})
    head = _signed_size(tree_size, "tree_size")
    if leaf.index >= head.tree_size:
        raise NotFound(
            f"leaf {leaf.index} is not in the head of size {head.tree_size}",
            fields={"tree_size": [f"must be more than {leaf.index}"]},
        )
    return InclusionProof(
        transaction_id=transaction_id,
        leaf_index=leaf.index,
        leaf_hash=leaf.leaf_hash,
        head=head,
        path=_proof(merkle.inclusion_ranges(leaf.index, head.tree_size)),
    )


@dataclass(frozen=True)
class ConsistencyProof:
    first: TreeHead
    second: TreeHead
    path: list[str]


def consistency_proof(*, first_size: int, second_size: int | None = None) -> ConsistencyProof:
    """The proof that the signed head of `second_size` (default: latest) extends the one of `first_size`."""
    first = _signed_size(first_size, "first")
    second = _signed_size(second_size, "second")
    if first.tree_size > second.tree_size:
        raise ValidationFailed.for_field("first", f"must be at most {second.tree_size}")
    return ConsistencyProof(
        first=first, second=second, path=_proof(merkle.consistency_ranges(first.tree_size, second.tree_size))
    )


def log_public_key() -> tuple[str, str]:
    """The public key that signs the heads (hex) and its key id."""
    public = signing_key().public_bytes
    return public.hex(), key_id(public)


@dataclass(frozen=True)
class LogVerification:
    ok: bool
    tree_size: int
    pending: int
    reason: str


VERIFY_BATCH = 5000


def verify_log() -> LogVerification:
    """Recompute every leaf from its transaction's hash, every signed head's root and signature, and that
    every journal transaction is in exactly one leaf or still queued."""
    public = signing_key().public_bytes
    heads = list(SignedTreeHead.objects.order_by("tree_size"))
    frontier: list[tuple[int, bytes]] = []  # complete subtrees left to right: (size, hash)
    size = 0
    head_position = 0

    def problem(reason: str) -> LogVerification:
        return LogVerification(ok=False, tree_size=size, pending=LogPending.objects.count(), reason=reason)

    def check_heads() -> LogVerification | None:
        nonlocal head_position
        while head_position < len(heads) and heads[head_position].tree_size == size:
            row = heads[head_position]
            if merkle.frontier_root(frontier).hex() != row.root_hash:
                return problem(f"the signed head of size {size} does not match the leaves")
            if not _head(row).valid_for(public):
                return problem(f"the signed head of size {size} is not signed by the service's key")
            head_position += 1
        return None

    if (failed := check_heads()) is not None:
        return failed
    # One pass over the leaves in order, read through a server-side cursor: batches of LIMIT
    # re-planned per batch joined the whole journal each time (a hash join), quadratic in the log.
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(
            "SELECT l.index, l.leaf_hash, t.hash FROM ledger_logleaf l"
            " LEFT JOIN ledger_journaltransaction t ON t.id = l.transaction_id ORDER BY l.index"
        )
        while rows := cursor.fetchmany(VERIFY_BATCH):
            for index, stored_leaf, transaction_hash in rows:
                if index != size:
                    return problem(f"leaf {size} is missing")
                if transaction_hash is None:
                    return problem(f"leaf {index} names a transaction that is not in the journal")
                leaf = merkle.leaf_hash(bytes.fromhex(transaction_hash))
                if leaf.hex() != stored_leaf:
                    return problem(f"leaf {index} does not match its transaction")
                merkle.frontier_push(frontier, leaf)
                size += 1
                if (failed := check_heads()) is not None:
                    return failed
    if head_position < len(heads):
        return problem(f"a signed head of size {heads[head_position].tree_size} is larger than the log")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM ledger_journaltransaction t WHERE NOT EXISTS"
            " (SELECT 1 FROM ledger_logleaf l WHERE l.transaction_id = t.id)"
            " AND NOT EXISTS (SELECT 1 FROM ledger_logpending p WHERE p.transaction_id = t.id)"
        )
        (lost,) = cursor.fetchone()
    if lost:
        return problem(f"{lost} journal transactions are neither in the log nor queued for it")
    return LogVerification(ok=True, tree_size=size, pending=LogPending.objects.count(), reason="")
