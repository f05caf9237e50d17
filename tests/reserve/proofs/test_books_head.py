"""The books' head that holdings statements and the public page cite: the transparency log's latest
signed tree head once the sealer has signed one, checkable with the service key; the hash chain's
head only before that, and then said so."""

from __future__ import annotations

import pytest

from ledger.log import merkle
from ledger.log.heads import TreeHead
from ledger.log.sealer import seal_log
from ledger.models import AccountType, LogLeaf
from ledger.services import EntrySpec, account_create, post_transaction
from ledger.signing import signing_key
from reserve.proofs.selectors import books_head


@pytest.mark.django_db
def test_a_statement_cites_the_latest_signed_tree_head_once_there_is_one():
    # given: two postings, not yet sealed
    cold = account_create(code="assets:custody:cold-bh", account_type=AccountType.ASSET, non_negative=True)
    equity = account_create(code="equity:acquisitions:bh", account_type=AccountType.EQUITY)
    posted = [
        post_transaction(
            idempotency_key=f"books-head-{n}",
            entries=[EntrySpec(account=cold, amount_sats=sats), EntrySpec(account=equity, amount_sats=-sats)],
            kind="acquisition",
        )
        for n, sats in enumerate((5_000, 7_000))
    ]
    # then: before any signed head, the hash chain's head stands in, and says it is that
    before = books_head()
    assert before["kind"] == "ledger-hash-chain"
    # when: the sealer signs a head
    sealed = seal_log()
    assert sealed.head is not None
    # then: the head cited is that signed head, over exactly the sealed journal, valid under the service key
    head = books_head()
    assert head["kind"] == "rfc9162-signed-tree-head"
    cited = TreeHead(
        **{field: head[field] for field in ("tree_size", "root_hash", "timestamp_ms", "signature", "key_id")}
    )
    assert cited == sealed.head and cited.tree_size == LogLeaf.objects.count() >= len(posted)
    assert cited.valid_for(signing_key().public_bytes)
    leaves = [bytes.fromhex(leaf) for leaf in LogLeaf.objects.order_by("index").values_list("leaf_hash", flat=True)]
    assert cited.root_hash == merkle.tree_root(leaves).hex()
    # and a root edited in what is cited no longer verifies
    forged = TreeHead(**{**cited.__dict__, "root_hash": "00" * 32})
    assert not forged.valid_for(signing_key().public_bytes)
