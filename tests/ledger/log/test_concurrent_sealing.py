"""16 writers posting while the sealer runs: every committed transaction in exactly one leaf, in commit order."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection

from ledger.log.sealer import seal_log
from ledger.log.selectors import verify_log
from ledger.models import AccountType, JournalTransaction, LogLeaf, LogPending
from ledger.selectors import verify_balances
from ledger.services import EntrySpec, account_create, post_transaction

WRITERS = 16
POSTINGS = 6


@pytest.mark.django_db(transaction=True)
def test_sixteen_writers_while_the_sealer_runs(equity, fund):
    # given four funded wallets that the writers share (so postings also wait on each other's row locks)
    wallets = [account_create(code=f"assets:race:w{index}", account_type=AccountType.ASSET) for index in range(4)]
    for wallet in wallets:
        fund(wallet, 10_000)
    barrier = threading.Barrier(WRITERS + 1)
    stop = threading.Event()
    posted: list[list[Any]] = [[] for _ in range(WRITERS)]
    errors: list[BaseException] = []
    heads: list[int] = []

    def writer(index: int) -> None:
        try:
            barrier.wait()
            for count in range(POSTINGS):
                source, target = wallets[(index + count) % 4], wallets[(index + count + 1) % 4]
                journal = post_transaction(
                    idempotency_key=f"race-{index}-{count}",
                    entries=[EntrySpec(account=target, amount_sats=1), EntrySpec(account=source, amount_sats=-1)],
                    kind="transfer",
                )
                posted[index].append(journal.pk)
                time.sleep(0.02)  # the writers overlap the sealer's rounds
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    def sealer() -> None:
        try:
            barrier.wait()
            while not stop.is_set():
                heads.append(seal_log().tree_size)
                time.sleep(0.01)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(index,)) for index in range(WRITERS)]
    sealing = threading.Thread(target=sealer)
    for thread in [*threads, sealing]:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    stop.set()
    sealing.join(timeout=60)
    assert not errors, errors
    seal_log()
    # then every committed transaction is in exactly one leaf and nothing waits
    assert not LogPending.objects.exists()
    leaves = list(LogLeaf.objects.order_by("index").values_list("transaction_id", flat=True))
    assert sorted(map(str, leaves)) == sorted(map(str, JournalTransaction.objects.values_list("pk", flat=True)))
    assert len(leaves) == len(set(leaves)) == 4 + WRITERS * POSTINGS
    # in commit order: log order is number order, and each writer's postings (each begun after the
    # previous one committed) follow each other
    numbers = dict(JournalTransaction.objects.values_list("pk", "sequence"))
    assert [numbers[pk] for pk in leaves] == sorted(numbers.values())
    position = {pk: index for index, pk in enumerate(leaves)}
    for mine in posted:
        assert [position[pk] for pk in mine] == sorted(position[pk] for pk in mine)
    # the sealer ran rounds alongside the writers (how much each sealed depends on the machine's load),
    # and the whole log verifies
    assert heads and heads == sorted(heads)
    assert verify_log().ok
    assert verify_balances() == []
