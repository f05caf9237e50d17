"""Balances as of occurred_at, posted_at and block height, with and without checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from config.errors import ValidationFailed
from ledger.models import BalanceCheckpoint, CheckpointCursor
from ledger.selectors import account_balance_as_of, balances_as_of
from ledger.services import EntrySpec, ledger_checkpoint_refresh, post_transaction, reverse_transaction

pytestmark = pytest.mark.django_db

DAY = datetime(2025, 1, 1, tzinfo=UTC)


def _move(source, target, sats, key, **kwargs):
    return post_transaction(
        idempotency_key=key,
        entries=[EntrySpec(account=target, amount_sats=sats), EntrySpec(account=source, amount_sats=-sats)],
        kind="transfer",
        **kwargs,
    )


def test_as_of_occurred_at_posted_at_and_height(cold, hot, fund):
    # given three movements on three days at three heights
    first = fund(cold, 1_000, occurred_at=DAY, block_height=100)
    second = _move(cold, hot, 300, "m2", occurred_at=DAY + timedelta(days=1), block_height=101)
    _move(cold, hot, 200, "m3", occurred_at=DAY + timedelta(days=2), block_height=102)
    # then each dimension answers from the entries at or before it
    assert account_balance_as_of(account=cold, occurred_at=DAY - timedelta(seconds=1)) == 0
    assert account_balance_as_of(account=cold, occurred_at=DAY) == 1_000
    assert account_balance_as_of(account=cold, occurred_at=DAY + timedelta(days=1, hours=5)) == 700
    assert account_balance_as_of(account=cold, block_height=101) == 700
    assert account_balance_as_of(account=cold, block_height=99) == 0
    assert account_balance_as_of(account=cold, posted_at=first.posted_at) == 1_000
    assert account_balance_as_of(account=hot, posted_at=second.posted_at) == 300
    assert balances_as_of(accounts=[cold, hot], block_height=102) == {cold.pk: 500, hot.pk: 500}


def test_back_dated_posting_changes_occurred_but_not_earlier_posted_answer(cold, hot, fund):
    # given a January funding and a February spend
    funded = fund(cold, 1_000, occurred_at=DAY)
    _move(cold, hot, 100, "feb", occurred_at=DAY + timedelta(days=31))
    # when a January movement is imported later (back-dated)
    late = _move(cold, hot, 50, "late", occurred_at=DAY + timedelta(days=10))
    # then "what we held on 15 Jan" includes it, "what the books said then" does not
    jan_15 = DAY + timedelta(days=14)
    assert account_balance_as_of(account=cold, occurred_at=jan_15) == 950
    assert account_balance_as_of(account=cold, posted_at=funded.posted_at) == 1_000
    assert account_balance_as_of(account=cold, posted_at=late.posted_at) == 850


def test_checkpoints_give_the_same_answers_and_survive_back_dating(cold, hot, fund):
    # given 12 daily movements, checkpointed every 3 entries
    fund(cold, 100_000, occurred_at=DAY, block_height=1)
    for day in range(1, 12):
        _move(cold, hot, 10 * day, f"d{day}", occurred_at=DAY + timedelta(days=day), block_height=1 + day)
    expected = {day: account_balance_as_of(account=cold, occurred_at=DAY + timedelta(days=day)) for day in range(12)}
    written = ledger_checkpoint_refresh(every=3)
    assert written > 0
    assert BalanceCheckpoint.objects.filter(account=cold, dimension="occurred_at").count() == 4
    # when answered through checkpoints: same values
    for day, balance in expected.items():
        assert account_balance_as_of(account=cold, occurred_at=DAY + timedelta(days=day)) == balance
    # when a back-dated movement arrives after the refresh (day 4.5, height 5)
    back = _move(cold, hot, 7, "back", occurred_at=DAY + timedelta(days=4, hours=12), block_height=5)
    # then answers before the refresh already count it through the cursor...
    assert account_balance_as_of(account=cold, occurred_at=DAY + timedelta(days=4)) == expected[4]
    assert account_balance_as_of(account=cold, occurred_at=DAY + timedelta(days=9)) == expected[9] - 7
    assert account_balance_as_of(account=cold, block_height=6) == expected[5] - 7
    # ...and after the next refresh, which rebuilds from the back-dated point
    ledger_checkpoint_refresh(every=3)
    assert CheckpointCursor.objects.get(account=cold, dimension="occurred_at").valid_through_sequence == back.sequence
    assert account_balance_as_of(account=cold, occurred_at=DAY + timedelta(days=9)) == expected[9] - 7
    assert account_balance_as_of(account=cold, occurred_at=DAY + timedelta(days=3)) == expected[3]
    assert account_balance_as_of(account=cold, block_height=5) == expected[4] - 7


def test_checkpoint_command(cold, fund, capsys):
    for index in range(4):
        fund(cold, 10, occurred_at=DAY + timedelta(hours=index))
    call_command("ledger_checkpoint", "--every", "2")
    assert "checkpoints written" in capsys.readouterr().out
    assert account_balance_as_of(account=cold, occurred_at=DAY + timedelta(hours=2)) == 30


def test_exactly_one_as_of_dimension(cold):
    with pytest.raises(ValidationFailed):
        account_balance_as_of(account=cold)
    with pytest.raises(ValidationFailed):
        account_balance_as_of(account=cold, block_height=1, posted_at=DAY)


def test_a_reversed_chain_posting_counts_at_no_height(cold, hot, fund):
    # given a movement booked at height 101, then reversed (its block was reorged away)
    fund(cold, 1_000, occurred_at=DAY, block_height=100)
    dropped = _move(cold, hot, 300, "m-dropped", occurred_at=DAY + timedelta(days=1), block_height=101)
    # when
    reversal = reverse_transaction(transaction=dropped, idempotency_key="m-dropped-reversal")
    # then the reversal stands at the same height, so no height of the best chain sees the movement
    assert reversal.block_height == 101
    assert balances_as_of(accounts=[cold, hot], block_height=101) == {cold.pk: 1_000, hot.pk: 0}
    assert balances_as_of(accounts=[cold, hot], block_height=500) == {cold.pk: 1_000, hot.pk: 0}
    # and checkpoints taken afterwards answer the same
    ledger_checkpoint_refresh(every=1)
    assert account_balance_as_of(account=hot, block_height=101) == 0
