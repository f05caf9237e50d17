"""The batch path's COPY is judged by the same database checks as any INSERT: a caller that skips
the Python checks (a bug, or raw use of the helper) still cannot write an unbalanced or overdrawn
posting."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from ledger.chain import ChainLink, journal_numbers
from ledger.models import JournalTransaction
from ledger.selectors import account_balance
from ledger.services.bulk_insert import journal_copy
from ledger.services.posting import EntrySpec, build_posting
from tests.ledger.conftest import unique_key


def _copy(legs: list[EntrySpec]) -> None:
    with transaction.atomic():
        numbers, posted_at = journal_numbers(1)
        journal, entries = build_posting(
            link=ChainLink(sequence=numbers[0], prev_hash="", posted_at=posted_at),
            idempotency_key=unique_key("copy"),
            digest="0" * 64,
            legs=legs,
            kind="bench",
            memo="",
            occurred_at=posted_at,
            block_height=None,
            block_hash=None,
            txid=None,
            metadata={},
            reverses=None,
            created_by=None,
        )
        journal_copy(journals=[journal], entries=entries)


@pytest.mark.django_db(transaction=True)  # the zero-sum trigger is deferred to the commit
def test_copy_runs_the_ledgers_triggers(cold, hot, equity, fund):
    fund(cold, 1_000)
    # an unbalanced pair is refused at commit
    with pytest.raises(IntegrityError, match=r"sum|balance"):
        _copy([EntrySpec(account=hot, amount_sats=10), EntrySpec(account=cold, amount_sats=-9)])
    # an overdraft of a non-negative account is refused
    with pytest.raises(IntegrityError, match="ledger_balance_non_negative"):
        _copy([EntrySpec(account=hot, amount_sats=1_001), EntrySpec(account=cold, amount_sats=-1_001)])
    assert JournalTransaction.objects.count() == 1
    # a balanced one lands with its balances updated by the database
    _copy([EntrySpec(account=hot, amount_sats=400), EntrySpec(account=cold, amount_sats=-400)])
    assert (account_balance(account=cold), account_balance(account=hot)) == (600, 400)
