"""post_batch: N transactions with their own keys, all or nothing, replayable."""

from __future__ import annotations

import pytest

from config.errors import ApplicationError
from ledger.errors import IdempotencyConflict
from ledger.log.sealer import seal_log
from ledger.log.selectors import verify_log
from ledger.models import JournalTransaction, LogLeaf
from ledger.selectors import account_balance, verify_chain
from ledger.services import EntrySpec, PostingSpec, post_batch, post_transaction

pytestmark = pytest.mark.django_db


def _spec(key: str, source, target, sats: int) -> PostingSpec:
    return PostingSpec(
        idempotency_key=key,
        entries=[EntrySpec(account=target, amount_sats=sats), EntrySpec(account=source, amount_sats=-sats)],
        kind="transfer",
    )


def test_a_batch_posts_all_and_replays(cold, hot, fund):
    fund(cold, 100)
    batch = [_spec(f"b-{index}", cold, hot, 10) for index in range(3)]
    posted = post_batch(postings=batch)
    assert [journal.idempotency_key for journal in posted] == ["b-0", "b-1", "b-2"]
    assert account_balance(account=hot) == 30
    # the same batch again posts nothing new
    assert [journal.pk for journal in post_batch(postings=batch)] == [journal.pk for journal in posted]
    assert account_balance(account=hot) == 30


def test_one_refused_transaction_posts_none_and_is_named(cold, hot, fund):
    fund(cold, 100)
    before = JournalTransaction.objects.count()
    batch = [_spec("ok-1", cold, hot, 60), _spec("ok-2", hot, cold, 10), _spec("over", cold, hot, 60)]
    with pytest.raises(ApplicationError) as refusal:
        post_batch(postings=batch)
    assert any(name.startswith("postings[2].") for name in refusal.value.fields), refusal.value.fields
    assert JournalTransaction.objects.count() == before
    assert account_balance(account=cold) == 100


@pytest.mark.parametrize("size", [0, 2])
def test_empty_batches_and_repeated_keys_are_refused(cold, hot, size):
    batch = [_spec("same", cold, hot, 1)] * size
    with pytest.raises(ApplicationError) as refusal:
        post_batch(postings=batch)
    assert "postings" in refusal.value.fields


def test_a_key_posted_alone_replays_in_a_batch_and_another_payload_is_named(cold, hot, fund):
    fund(cold, 100)
    alone = post_transaction(
        idempotency_key="alone",
        entries=[EntrySpec(account=hot, amount_sats=5), EntrySpec(account=cold, amount_sats=-5)],
        kind="transfer",
    )
    posted = post_batch(postings=[_spec("new", cold, hot, 1), _spec("alone", cold, hot, 5)])
    assert posted[1].pk == alone.pk and account_balance(account=hot) == 6
    with pytest.raises(IdempotencyConflict) as refusal:
        post_batch(postings=[_spec("newer", cold, hot, 1), _spec("alone", cold, hot, 7)])
    assert list(refusal.value.fields) == ["postings[1].idempotency_key"]
    assert not JournalTransaction.objects.filter(idempotency_key="newer").exists()


@pytest.mark.django_db(transaction=True)  # the zero-sum trigger and the log's queue are judged at commit
def test_batch_rows_are_the_ledgers_own_hashed_and_sealed(cold, hot, fund):
    fund(cold, 100)
    posted = post_batch(postings=[_spec(f"s-{index}", cold, hot, 1) for index in range(5)])
    assert verify_chain().ok
    assert seal_log().sealed == 6
    assert verify_log().ok
    assert list(LogLeaf.objects.order_by("index").values_list("transaction_id", flat=True))[1:] == [
        journal.pk for journal in posted
    ]
