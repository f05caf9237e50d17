"""The transparency log in the database: sealing, signed heads, proofs, and what raw SQL cannot do to it."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from ledger.chain import content_digest, link_hash, transaction_content
from ledger.log import merkle
from ledger.log.sealer import seal_log
from ledger.log.selectors import consistency_proof, inclusion_proof, latest_signed_head, verify_log
from ledger.models import JournalTransaction, LogLeaf, LogPending
from ledger.services import EntrySpec, post_transaction
from ledger.signing import signing_key
from tests.ledger.conftest import unique_key
from tests.owner import behind_the_triggers


def _move(source, target, sats: int) -> JournalTransaction:
    return post_transaction(
        idempotency_key=unique_key("move"),
        entries=[EntrySpec(account=target, amount_sats=sats), EntrySpec(account=source, amount_sats=-sats)],
        kind="transfer",
    )


def _refused(statement: str, params: list[Any] | None = None) -> str:
    with pytest.raises(DatabaseError) as refusal, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)
    return str(refusal.value)


@pytest.mark.django_db
def test_sealed_transactions_are_leaves_in_order_with_signed_heads_and_proofs(cold, hot, fund):
    # given five postings, sealed
    posted = [fund(cold, 1_000), *(_move(cold, hot, 10 + i) for i in range(4))]
    first = seal_log()
    # then each is one leaf, in posting order, and the signed head's root is the RFC 9162 root of them
    assert (first.sealed, first.tree_size) == (5, 5)
    leaves = list(LogLeaf.objects.order_by("index").values_list("transaction_id", "leaf_hash"))
    assert [transaction_id for transaction_id, _ in leaves] == [journal.pk for journal in posted]
    assert [bytes.fromhex(leaf) for _, leaf in leaves] == [
        merkle.leaf_hash(bytes.fromhex(journal.hash)) for journal in posted
    ]
    head = latest_signed_head()
    assert head is not None
    assert head == first.head
    assert head.root_hash == merkle.tree_root([bytes.fromhex(leaf) for _, leaf in leaves]).hex()
    assert head.valid_for(signing_key().public_bytes)
    assert not LogPending.objects.exists()
    # and every inclusion proof verifies against it
    for index, journal in enumerate(posted):
        proof = inclusion_proof(transaction_id=journal.pk)
        assert proof.leaf_index == index
        assert merkle.inclusion_valid(
            index=index,
            size=5,
            leaf=bytes.fromhex(proof.leaf_hash),
            path=[bytes.fromhex(node) for node in proof.path],
            root=bytes.fromhex(head.root_hash),
        )
    # when three more are sealed, nothing new means no new head, and the new head extends the old
    assert seal_log().head is None
    more = [_move(cold, hot, 1) for _ in range(3)]
    second = seal_log()
    assert (second.sealed, second.tree_size) == (3, 8)
    assert second.head is not None
    consistency = consistency_proof(first_size=5)
    assert merkle.consistency_valid(
        first_size=5,
        second_size=8,
        first_root=bytes.fromhex(head.root_hash),
        second_root=bytes.fromhex(second.head.root_hash),
        path=[bytes.fromhex(node) for node in consistency.path],
    )
    assert inclusion_proof(transaction_id=more[-1].pk, tree_size=8).leaf_index == 7
    assert verify_log().ok


@pytest.mark.django_db
def test_the_service_role_cannot_forge_or_skip_log_rows(cold, fund):
    # given one sealed posting and one not yet sealed
    sealed = fund(cold, 5)
    seal_log()
    queued = fund(cold, 6)
    leaf = merkle.leaf_hash(bytes.fromhex(queued.hash)).hex()
    # then raw SQL as the service role cannot add a wrong leaf, skip a position, forge a node or a head
    assert "not the leaf hash" in _refused(
        "INSERT INTO ledger_logleaf (index, transaction_id, leaf_hash) VALUES (1, %s, %s)", [queued.pk, "0" * 64]
    )
    assert "next leaf is 1" in _refused(
        "INSERT INTO ledger_logleaf (index, transaction_id, leaf_hash) VALUES (2, %s, %s)", [queued.pk, leaf]
    )
    assert "node hash of its children" in _refused(
        "INSERT INTO ledger_lognode (level, index, hash) VALUES (1, 0, %s)", ["0" * 64]
    )
    head = latest_signed_head()
    assert head is not None
    assert "heads only grow" in _refused(
        "INSERT INTO ledger_signedtreehead (tree_size, root_hash, timestamp_ms, key_id, signature)"
        " VALUES (1, %s, %s, %s, %s)",
        [head.root_hash, head.timestamp_ms + 1, head.key_id, head.signature],
    )
    assert "larger than the log" in _refused(
        "INSERT INTO ledger_signedtreehead (tree_size, root_hash, timestamp_ms, key_id, signature)"
        " VALUES (5, %s, %s, %s, %s)",
        [head.root_hash, head.timestamp_ms + 1, head.key_id, head.signature],
    )
    # nor take an unsealed transaction off the queue, nor change a queue entry
    assert "not sealed yet" in _refused("DELETE FROM ledger_logpending WHERE transaction_id = %s", [queued.pk])
    assert "permission denied" in _refused("UPDATE ledger_logpending SET sequence = 1")
    # nor change or delete what is sealed
    for statement in (
        "UPDATE ledger_logleaf SET leaf_hash = repeat('0', 64)",
        "DELETE FROM ledger_logleaf",
        "DELETE FROM ledger_signedtreehead",
        "UPDATE ledger_signedtreehead SET root_hash = repeat('0', 64)",
    ):
        assert "permission denied" in _refused(statement)
    # and a transaction inserted by hand is queued like any other
    assert list(LogPending.objects.values_list("transaction_id", flat=True)) == [queued.pk]
    assert seal_log().sealed == 1
    assert LogLeaf.objects.get(index=0).transaction_id == sealed.pk


@pytest.mark.django_db(transaction=True)
def test_an_edit_rehashed_by_the_recipe_passes_the_hash_check_but_not_the_log(cold, hot, fund, capsys):
    # given three sealed postings
    posted = [fund(cold, 100), _move(cold, hot, 7), _move(cold, hot, 8)]
    seal_log()
    call_command("verify_ledger")
    assert "transparency log ok: 3 leaves, 0 transactions still to seal" in capsys.readouterr().out
    # when the owner edits the middle one's memo and recomputes its hash by the published recipe
    target = JournalTransaction.objects.get(pk=posted[1].pk)
    legs = list(target.entries.values_list("account__code", "amount_sats", "currency"))
    content = transaction_content(
        id=str(target.pk),
        idempotency_key=target.idempotency_key,
        request_hash=target.request_hash,
        kind=target.kind,
        memo="nothing to see",
        block_height=None,
        block_hash=None,
        txid=None,
        metadata=target.metadata,
        reverses=None,
        created_by=None,
        entries=legs,
    )
    rehashed = link_hash(
        prev_hash="",
        sequence=target.sequence,
        occurred_at=target.occurred_at,
        posted_at=target.posted_at,
        digest=content_digest(content),
    )
    with behind_the_triggers("ledger_journaltransaction") as cursor:
        cursor.execute(
            "UPDATE ledger_journaltransaction SET memo = 'nothing to see', hash = %s WHERE id = %s",
            [rehashed, target.pk],
        )
    # then the transaction's own hash verifies, but its leaf no longer does
    result = verify_log()
    assert (result.ok, result.reason) == (False, "leaf 1 does not match its transaction")
    with pytest.raises(Exception, match="transparency log broken at size 1"):
        call_command("verify_ledger")


@pytest.mark.django_db(transaction=True)
def test_verify_log_reads_the_whole_log_in_one_pass_across_fetches(cold, hot, fund, monkeypatch):
    # given six sealed postings, read back two leaves per fetch from the server-side cursor
    monkeypatch.setattr("ledger.log.selectors.VERIFY_BATCH", 2)
    posted = [fund(cold, 1_000), *(_move(cold, hot, 10 + i) for i in range(5))]
    seal_log()
    # then every leaf is judged, up to the last fetch
    assert (verify_log().ok, verify_log().tree_size) == (True, 6)
    # when the owner overwrites the hash of a transaction in the last fetch
    with behind_the_triggers("ledger_journaltransaction") as cursor:
        cursor.execute("UPDATE ledger_journaltransaction SET hash = repeat('a', 64) WHERE id = %s", [posted[5].pk])
    # then the pass stops at its leaf and names it
    result = verify_log()
    assert (result.ok, result.tree_size, result.reason) == (False, 5, "leaf 5 does not match its transaction")
