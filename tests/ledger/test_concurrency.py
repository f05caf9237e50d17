"""Races against real PostgreSQL: idempotency under 20 threads, no overdraft, no deadlock."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from config.errors import Conflict
from ledger.errors import IdempotencyConflict, InsufficientFunds
from ledger.models import AccountType, JournalTransaction, PendingStatus
from ledger.selectors import account_available_balance, account_balance, verify_balances, verify_chain
from ledger.services import (
    EntrySpec,
    account_create,
    pending_create,
    pending_post,
    pending_void,
    post_transaction,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _race(workers: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(i) in `workers` threads released together; return results or exceptions."""
    barrier = threading.Barrier(workers)
    results: list[Any] = [None] * workers

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker hung (deadlock?)"
    return results


def test_twenty_threads_one_key_post_once(cold, hot, fund):
    # given cold holds exactly enough for one posting
    fund(cold, 500)

    # when 20 threads post the same request with one key at once
    def work(_: int) -> JournalTransaction:
        return post_transaction(
            idempotency_key="race-1",
            entries=[EntrySpec(account=hot, amount_sats=500), EntrySpec(account=cold, amount_sats=-500)],
            kind="transfer",
        )

    results = _race(20, work)
    # then every thread got the same transaction and it was posted once
    assert all(isinstance(result, JournalTransaction) for result in results), results
    assert len({result.pk for result in results}) == 1
    assert JournalTransaction.objects.filter(idempotency_key="race-1").count() == 1
    assert account_balance(account=hot) == 500


def test_racing_different_payloads_under_one_key_conflict(cold, hot, equity):
    # when 10 threads race with one key, each with another amount, on disjoint-enough legs
    def work(index: int) -> JournalTransaction:
        return post_transaction(
            idempotency_key="race-2",
            entries=[EntrySpec(account=hot, amount_sats=1 + index), EntrySpec(account=equity, amount_sats=-1 - index)],
            kind="transfer",
        )

    results = _race(10, work)
    # then exactly one posts and every other one is a conflict, never a silent success
    kinds = Counter(type(result).__name__ for result in results)
    assert kinds == {"JournalTransaction": 1, "IdempotencyConflict": 9}, results
    assert all(isinstance(r, JournalTransaction | IdempotencyConflict) for r in results)
    assert JournalTransaction.objects.filter(idempotency_key="race-2").count() == 1


def test_parallel_spends_never_overdraw(cold, hot, fund):
    # given 1_000 sats and 20 threads that each want 75
    fund(cold, 1_000)

    def work(index: int) -> JournalTransaction:
        return post_transaction(
            idempotency_key=f"spend-{index}",
            entries=[EntrySpec(account=hot, amount_sats=75), EntrySpec(account=cold, amount_sats=-75)],
            kind="transfer",
        )

    results = _race(20, work)
    # then exactly 13 fit, the rest are refused, and the balance never went below zero
    posted = [r for r in results if isinstance(r, JournalTransaction)]
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    assert (len(posted), len(refused)) == (13, 7), results
    assert account_balance(account=cold) == 25
    assert verify_chain().ok


def test_parallel_reservations_never_overdraw(cold, hot, fund):
    fund(cold, 1_000)

    def work(index: int) -> object:
        return pending_create(
            idempotency_key=f"reserve-{index}",
            entries=[EntrySpec(account=hot, amount_sats=300), EntrySpec(account=cold, amount_sats=-300)],
            kind="transfer",
        )

    results = _race(10, work)
    assert sum(not isinstance(r, Exception) for r in results) == 3
    assert all(isinstance(r, InsufficientFunds) for r in results if isinstance(r, Exception))
    assert account_available_balance(account=cold) == 100


def test_crossing_transfers_do_not_deadlock(equity, fund):
    # given four funded accounts
    accounts = [
        account_create(code=f"assets:custody:w{index}", account_type=AccountType.ASSET, non_negative=True)
        for index in range(4)
    ]
    for account in accounts:
        fund(account, 10_000)

    # when 8 threads move sats back and forth between random pairs, legs in random order
    def work(index: int) -> int:
        rng = random.Random(index)
        done = 0
        for step in range(15):
            source, target = rng.sample(accounts, 2)
            legs = [EntrySpec(account=target, amount_sats=7), EntrySpec(account=source, amount_sats=-7)]
            rng.shuffle(legs)
            post_transaction(idempotency_key=f"cross-{index}-{step}", entries=legs, kind="transfer")
            done += 1
        return done

    results = _race(8, work)
    # then every posting went through (a deadlock would surface as an OperationalError)
    assert results == [15] * 8, results
    assert sum(account_balance(account=a) for a in accounts) == 40_000
    assert verify_balances() == []
    assert verify_chain().length == 4 + 8 * 15


def test_posting_inside_a_callers_transaction_is_all_or_nothing(cold, hot, fund):
    # given a caller (reserve) that posts inside its own atomic block and then fails
    fund(cold, 1_000)
    with pytest.raises(RuntimeError), transaction.atomic():
        post_transaction(
            idempotency_key="outer-1",
            entries=[EntrySpec(account=hot, amount_sats=10), EntrySpec(account=cold, amount_sats=-10)],
            kind="transfer",
        )
        raise RuntimeError("policy check failed after posting")
    # then nothing was posted (the number it took stays unused: the log orders, not the numbers)
    assert not JournalTransaction.objects.filter(idempotency_key="outer-1").exists()
    again = post_transaction(
        idempotency_key="outer-1",
        entries=[EntrySpec(account=hot, amount_sats=10), EntrySpec(account=cold, amount_sats=-10)],
        kind="transfer",
    )
    assert JournalTransaction.objects.count() == 2
    assert again.prev_hash == ""
    assert verify_chain().ok


def test_racing_identical_postings_inside_callers_transactions_post_once(cold, hot, fund):
    # given callers that, like reserve, post inside their own atomic block
    fund(cold, 500)

    def work(_: int) -> JournalTransaction:
        with transaction.atomic():
            return post_transaction(
                idempotency_key="race-nested",
                entries=[EntrySpec(account=hot, amount_sats=500), EntrySpec(account=cold, amount_sats=-500)],
                kind="transfer",
            )

    results = _race(12, work)
    # then they all return the one posting
    assert all(isinstance(result, JournalTransaction) for result in results), results
    assert len({result.pk for result in results}) == 1
    assert account_balance(account=cold) == 0


def test_post_and_void_of_one_reservation_race_to_one_outcome(cold, hot, fund):
    # given one open reservation
    fund(cold, 1_000)
    pending = pending_create(
        idempotency_key="res-race",
        entries=[EntrySpec(account=hot, amount_sats=600), EntrySpec(account=cold, amount_sats=-600)],
        kind="transfer",
    )

    # when half the threads post it and half void it, at once
    def work(index: int) -> object:
        if index % 2:
            return pending_void(pending=pending, reason="cancelled")
        return pending_post(pending=pending, idempotency_key="res-race-post")

    results = _race(10, work)
    pending.refresh_from_db()
    # then exactly one outcome happened and the books agree with it
    if pending.status == PendingStatus.POSTED:
        assert account_balance(account=cold) == 400
        assert all(isinstance(r, JournalTransaction | Conflict) for r in results), results
    else:
        assert pending.status == PendingStatus.VOIDED
        assert account_balance(account=cold) == 1_000
        assert not JournalTransaction.objects.filter(idempotency_key="res-race-post").exists()
    assert account_available_balance(account=cold) == account_balance(account=cold)
    assert verify_balances() == []
