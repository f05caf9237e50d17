"""post_transaction / reverse_transaction / account_create: validation, idempotency, balances."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from config.errors import Conflict, ValidationFailed
from ledger.errors import IdempotencyConflict, InsufficientFunds, UnbalancedTransaction, ZeroAmount
from ledger.models import AccountType, Entry, JournalTransaction
from ledger.selectors import account_balance, journal_list, verify_balances, verify_chain
from ledger.services import EntrySpec, account_create, post_transaction, reverse_transaction

pytestmark = pytest.mark.django_db


def _move(source, target, sats, key="move-1", **kwargs):
    return post_transaction(
        idempotency_key=key,
        entries=[EntrySpec(account=target, amount_sats=sats), EntrySpec(account=source, amount_sats=-sats)],
        kind="transfer",
        **kwargs,
    )


def test_posting_moves_balances_and_chains(cold, hot, fund):
    # given cold funded with 10_000 sats
    first = fund(cold, 10_000)
    # when 2_500 move to hot
    moved = _move(cold, hot, 2_500, block_height=840_000, txid="ab" * 32, metadata={"transfer": 7})
    # then balances, entries and the chain link are right
    assert account_balance(account=cold) == 7_500
    assert account_balance(account=hot) == 2_500
    assert moved.sequence > first.sequence
    assert moved.prev_hash == ""
    assert len(moved.hash) == 64
    assert moved.posted_at >= first.posted_at
    assert moved.occurred_at == moved.posted_at
    assert sorted(Entry.objects.filter(transaction=moved).values_list("amount_sats", flat=True)) == [-2_500, 2_500]
    assert verify_chain().ok
    assert verify_balances() == []


def test_same_key_same_payload_returns_original(cold, hot, fund):
    fund(cold, 1_000)
    occurred = datetime(2025, 1, 31, 12, tzinfo=UTC)
    original = _move(cold, hot, 400, occurred_at=occurred)
    # when the same request is replayed
    replay = _move(cold, hot, 400, occurred_at=occurred)
    # then the original comes back and nothing new is posted
    assert replay.pk == original.pk
    assert account_balance(account=hot) == 400
    assert JournalTransaction.objects.filter(idempotency_key="move-1").count() == 1


def test_replay_after_funds_were_spent_still_returns_original(cold, hot, fund):
    # given a posting that drained cold
    fund(cold, 400)
    original = _move(cold, hot, 400)
    # when it is replayed (it could not be posted again)
    # then the replay is recognised before the funds check
    assert _move(cold, hot, 400).pk == original.pk


def test_same_key_different_payload_is_conflict(cold, hot, fund):
    fund(cold, 1_000)
    _move(cold, hot, 400)
    with pytest.raises(IdempotencyConflict) as caught:
        _move(cold, hot, 401)
    assert caught.value.status == 409
    assert "idempotency_key" in caught.value.fields


def test_unbalanced_and_zero_amounts_are_refused(cold, hot):
    with pytest.raises(UnbalancedTransaction) as caught:
        post_transaction(
            idempotency_key="u",
            entries=[EntrySpec(account=cold, amount_sats=5), EntrySpec(account=hot, amount_sats=-4)],
            kind="transfer",
        )
    assert "entries" in caught.value.fields
    with pytest.raises(ZeroAmount) as zero:
        post_transaction(
            idempotency_key="z",
            entries=[EntrySpec(account=cold, amount_sats=0), EntrySpec(account=hot, amount_sats=0)],
            kind="transfer",
        )
    assert "entries[0].amount_sats" in zero.value.fields
    assert not JournalTransaction.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"kind": ""}, "kind"),
        ({"occurred_at": datetime(2025, 1, 1)}, "occurred_at"),  # naive on purpose
        ({"block_height": -1}, "block_height"),
        ({"txid": "XYZ"}, "txid"),
        ({"metadata": {"price": 1.5}}, "metadata.price"),
    ],
)
def test_bad_input_names_the_field(cold, hot, fund, kwargs, field):
    fund(cold, 10)
    arguments = {
        "idempotency_key": "bad",
        "entries": [EntrySpec(account=hot, amount_sats=1), EntrySpec(account=cold, amount_sats=-1)],
        "kind": "transfer",
        **kwargs,
    }
    with pytest.raises(ValidationFailed) as caught:
        post_transaction(**arguments)
    assert field in caught.value.fields


def test_amount_above_supply_is_refused(cold, equity):
    too_much = 21_000_000 * 100_000_000 + 1
    with pytest.raises(ValidationFailed) as caught:
        post_transaction(
            idempotency_key="big",
            entries=[EntrySpec(account=equity, amount_sats=too_much), EntrySpec(account=equity, amount_sats=-too_much)],
            kind="x",
        )
    assert "entries[0].amount_sats" in caught.value.fields


def test_overdraft_of_non_negative_account_is_insufficient_funds(cold, hot, fund):
    fund(cold, 100)
    with pytest.raises(InsufficientFunds) as caught:
        _move(cold, hot, 101)
    assert caught.value.status == 409
    assert account_balance(account=cold) == 100


def test_same_account_debit_and_credit_net_out(cold, hot, fund):
    # given cold holds 10; a posting credits 15 and debits 10 to cold (net -5)
    fund(cold, 10)
    post_transaction(
        idempotency_key="net",
        entries=[
            EntrySpec(account=cold, amount_sats=-15),
            EntrySpec(account=cold, amount_sats=10),
            EntrySpec(account=hot, amount_sats=5),
        ],
        kind="transfer",
    )
    # then the leg order never dipped below zero on the way
    assert account_balance(account=cold) == 5


def test_reversal_mirrors_and_happens_once(cold, hot, fund):
    fund(cold, 1_000)
    original = _move(cold, hot, 300)
    # when reversed
    reversal = reverse_transaction(transaction=original, idempotency_key="rev-1", memo="wrong wallet")
    # then balances are restored and the link is recorded
    assert reversal.reverses_id == original.pk
    assert reversal.kind == "reversal"
    assert account_balance(account=cold) == 1_000
    assert account_balance(account=hot) == 0
    # a replay returns it; a second reversal under another key conflicts
    assert reverse_transaction(transaction=original, idempotency_key="rev-1", memo="wrong wallet").pk == reversal.pk
    with pytest.raises(Conflict):
        reverse_transaction(transaction=original, idempotency_key="rev-2")


def test_reversal_that_would_overdraw_is_refused(cold, hot, fund):
    # given hot received 300 and then spent it
    fund(cold, 1_000)
    original = _move(cold, hot, 300)
    _move(hot, cold, 300, key="spend")
    # when the receipt is reversed, hot would go to -300
    with pytest.raises(InsufficientFunds):
        reverse_transaction(transaction=original, idempotency_key="rev-x")


def test_account_create_is_idempotent_on_code():
    first = account_create(code="assets:custody:cold-09", account_type=AccountType.ASSET, non_negative=True)
    again = account_create(code="assets:custody:cold-09", account_type=AccountType.ASSET, non_negative=True)
    assert again.pk == first.pk
    assert first.created_at is not None
    with pytest.raises(Conflict) as caught:
        account_create(code="assets:custody:cold-09", account_type=AccountType.LIABILITY, non_negative=True)
    assert "account_type" in caught.value.fields
    with pytest.raises(ValidationFailed) as bad:
        account_create(code="Assets::X", account_type=AccountType.ASSET)
    assert "code" in bad.value.fields


def test_journal_list_filters(cold, hot, fund):
    fund(cold, 1_000, occurred_at=datetime(2025, 1, 1, tzinfo=UTC))
    moved = _move(cold, hot, 5, occurred_at=datetime(2025, 2, 1, tzinfo=UTC))
    assert [tx.pk for tx in journal_list(account=hot)] == [moved.pk]
    assert [tx.kind for tx in journal_list(kind="acquisition")] == ["acquisition"]
    assert [tx.pk for tx in journal_list(occurred_from=datetime(2025, 1, 15, tzinfo=UTC))] == [moved.pk]
    assert journal_list(occurred_to=datetime(2024, 12, 31, tzinfo=UTC)).count() == 0
