"""A block with many bookings commits them in steps (reserve/reconciliation/follower.py,
POSTINGS_PER_STEP), the scan cursor counting the steps done: the wallet's balance row is free
between steps, a crash between steps is finished on the next scan with nothing booked twice,
and a half-booked block that leaves the best chain is reversed like any other.

Committed work matters here (a step that commits, a crash after it), so these tests run on
committed transactions against the real database and the in-memory chain.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.db import connection

from ledger.models import JournalTransaction
from ledger.selectors import account_balance
from reserve.chain.blocks import Outpoint
from reserve.custody.models import Agency, Wallet
from reserve.reconciliation import follower
from reserve.reconciliation.follower import wallet_scan
from reserve.reconciliation.models import Discrepancy, ScanCursor
from reserve.transfers.models import Transfer
from tests.owner import another_session
from tests.regtest.keys import WalletKey
from tests.reserve.chain.memory_source import MemorySource
from tests.reserve.conftest import fake_hash
from tests.reserve.reconciliation.conftest import FEE_SATS, Coin, key_wallet, pay
from tests.users import make_user

pytestmark = pytest.mark.django_db(transaction=True)

OUTSIDE = WalletKey("steps outside payer")
COLD = WalletKey("steps cold")
OUTPUTS = 7  # at 2 postings a step: steps of 2, 2, 2 and 1 bookings
AMOUNTS = [100_000 + number for number in range(OUTPUTS)]


class Crash(Exception):
    """What a killed worker leaves: the step under way rolled back, the steps before it committed."""


@pytest.fixture
def chain() -> MemorySource:
    return MemorySource()


@pytest.fixture
def cold(chain: MemorySource) -> Wallet:
    operator = make_user("stella", "operator")
    agency = Agency.objects.create(name="Treasury", kind="ministry")
    return key_wallet(operator, agency, "steps-cold", COLD, birthday_height=chain.block_count() + 1)


@pytest.fixture
def small_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(follower, "POSTINGS_PER_STEP", 2)


def _crash_at_step(monkeypatch: pytest.MonkeyPatch, step: int, before: Any = None) -> None:
    """Step `step` (1 is the block's first transaction) raises after `before()` ran in it."""
    real = follower.bookings_book
    calls = {"count": 0}

    def book(**kwargs: Any) -> Any:
        calls["count"] += 1
        if before is not None:
            before(calls["count"])
        if calls["count"] == step:
            raise Crash(f"killed during step {step}")
        return real(**kwargs)

    monkeypatch.setattr(follower, "bookings_book", book)


def _mine_many_outputs(chain: MemorySource) -> str:
    payment = pay(
        [Coin(Outpoint(fake_hash("steps coin"), 0), sum(AMOUNTS) + FEE_SATS, OUTSIDE)],
        [(COLD.p2wpkh_script, amount) for amount in AMOUNTS],
    )
    return chain.mine(payment)


def _observed(wallet: Wallet) -> list[int | None]:
    vouts = Transfer.objects.filter(destination_wallet=wallet, observed=True).values_list("vout", flat=True)
    return sorted(vouts, key=lambda vout: -1 if vout is None else vout)


def test_a_crash_between_steps_is_finished_on_the_next_scan_and_nothing_is_booked_twice(
    chain, cold, small_steps, monkeypatch
):
    # given: a block paying the wallet 7 times, its third step killed
    block_hash = _mine_many_outputs(chain)
    _crash_at_step(monkeypatch, 3)
    with pytest.raises(Crash):
        wallet_scan(wallet=cold, source=chain)
    cursor = ScanCursor.objects.get(wallet=cold)
    assert (cursor.block_hash, cursor.booking_block_hash, cursor.booked_units) == (block_hash, block_hash, 4)
    assert _observed(cold) == [0, 1, 2, 3]
    assert account_balance(account=cold.ledger_account) == sum(AMOUNTS[:4])
    # when: the worker comes back
    monkeypatch.undo()
    monkeypatch.setattr(follower, "POSTINGS_PER_STEP", 2)
    result = wallet_scan(wallet=cold, source=chain)
    # then: the rest is booked, each output once, one posting each
    assert result.bookings.observed == 3
    assert _observed(cold) == list(range(OUTPUTS))
    assert JournalTransaction.objects.filter(kind="observed_inbound", block_hash=block_hash).count() == OUTPUTS
    assert Discrepancy.objects.filter(wallet=cold, kind="unrecorded_inflow").count() == OUTPUTS
    assert account_balance(account=cold.ledger_account) == sum(AMOUNTS)
    cursor.refresh_from_db()
    assert (cursor.block_hash, cursor.booking_block_hash, cursor.booked_units) == (block_hash, "", 0)
    # and again: nothing left to book
    assert wallet_scan(wallet=cold, source=chain).bookings.observed == 0


def test_a_half_booked_block_that_leaves_the_best_chain_is_reversed(chain, cold, small_steps, monkeypatch):
    # given: the block's bookings killed after two steps
    block_hash = _mine_many_outputs(chain)
    _crash_at_step(monkeypatch, 3)
    with pytest.raises(Crash):
        wallet_scan(wallet=cold, source=chain)
    monkeypatch.undo()
    # when: a longer branch without that block wins
    parent = chain.best[-2]
    chain.mine(parent_hash=chain.mine(parent_hash=parent))
    result = wallet_scan(wallet=cold, source=chain)
    # then: the four bookings it made are reversed, nothing else was booked
    assert result.reorgs == 1
    assert set(Transfer.objects.filter(destination_wallet=cold).values_list("status", flat=True)) == {"reorged"}
    assert account_balance(account=cold.ledger_account) == 0
    cursor = ScanCursor.objects.get(wallet=cold)
    assert (cursor.height, cursor.block_hash, cursor.booking_block_hash) == (chain.block_count(), chain.best[-1], "")
    assert block_hash not in chain.best


def test_the_wallet_balance_row_is_free_between_steps(chain, cold, small_steps, monkeypatch):
    # given: another session trying the wallet's balance row at the start of each step
    _mine_many_outputs(chain)
    account_id = cold.ledger_account_id
    free_at: list[int] = []

    def try_the_balance_row(step: int) -> None:
        with another_session() as other:
            try:
                other.execute(
                    "SELECT 1 FROM ledger_accountbalance WHERE account_id = %s FOR UPDATE NOWAIT", [account_id]
                )
                free_at.append(step)
            except psycopg.errors.LockNotAvailable:
                pass

    _crash_at_step(monkeypatch, 0, before=try_the_balance_row)
    # when
    wallet_scan(wallet=cold, source=chain)
    # then: every later step found the row free (the steps before had committed); the first was
    # the block's first transaction, which locks it only in its own step
    assert free_at == [1, 2, 3, 4]
    assert _observed(cold) == list(range(OUTPUTS))


def test_the_service_role_cannot_point_the_booking_count_at_another_block(chain, cold, small_steps, monkeypatch):
    # given: a half-booked block
    _mine_many_outputs(chain)
    _crash_at_step(monkeypatch, 2)
    with pytest.raises(Crash):
        wallet_scan(wallet=cold, source=chain)
    # when / then: the cursor's booking must be its own block's (a CHECK, not only the code)
    with pytest.raises(Exception, match="reserve_cursor_booking_at_cursor"), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE reserve_scancursor SET booking_block_hash = %s WHERE wallet_id = %s", [fake_hash("other"), cold.pk]
        )
