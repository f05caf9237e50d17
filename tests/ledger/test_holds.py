"""`balances_hold`: a transaction that will post several times holds every balance row it may
touch first, in key order, so its later postings never lock out of the one global order."""

from __future__ import annotations

import psycopg
import pytest
from django.db import transaction

from ledger.models import Account
from ledger.services import balances_hold
from tests.owner import another_session

pytestmark = pytest.mark.django_db(transaction=True)


def _locked_elsewhere(account: Account) -> bool:
    """Does another session find this account's balance row locked?"""
    with another_session() as other:
        try:
            other.execute("SELECT 1 FROM ledger_accountbalance WHERE account_id = %s FOR UPDATE NOWAIT", [account.pk])
        except psycopg.errors.LockNotAvailable:
            return True
        return False


def test_the_named_wallets_and_every_shared_account_are_held_until_commit(
    cold: Account, hot: Account, equity: Account, fees: Account
) -> None:
    # when: holding only cold by name
    with transaction.atomic():
        held = balances_hold(account_ids=[cold.pk])
        # then: cold, and the shared equity and expense accounts, but not the other wallet
        assert held == 3
        assert [_locked_elsewhere(account) for account in (cold, equity, fees, hot)] == [True, True, True, False]
    # and released at commit
    assert not any(_locked_elsewhere(account) for account in (cold, equity, fees))
