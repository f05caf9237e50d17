"""Fixtures for the ledger tests: a small chart of accounts and a way to fund it."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from ledger.models import Account, AccountType, JournalTransaction
from ledger.services import EntrySpec, account_create, post_transaction

_keys = itertools.count()


def unique_key(prefix: str = "k") -> str:
    return f"{prefix}-{next(_keys)}"


@pytest.fixture
def equity() -> Account:
    return account_create(code="equity:acquisitions:forfeiture", account_type=AccountType.EQUITY)


@pytest.fixture
def cold() -> Account:
    return account_create(code="assets:custody:cold-01", account_type=AccountType.ASSET, non_negative=True)


@pytest.fixture
def hot() -> Account:
    return account_create(code="assets:custody:hot-01", account_type=AccountType.ASSET, non_negative=True)


@pytest.fixture
def fees() -> Account:
    return account_create(code="expenses:fees", account_type=AccountType.EXPENSE)


@pytest.fixture
def fund(equity: Account) -> Callable[..., JournalTransaction]:
    """fund(account, sats): post an acquisition from equity into `account`."""

    def _fund(account: Account, sats: int, **kwargs: Any) -> JournalTransaction:
        return post_transaction(
            idempotency_key=unique_key("fund"),
            entries=[EntrySpec(account=account, amount_sats=sats), EntrySpec(account=equity, amount_sats=-sats)],
            kind="acquisition",
            **kwargs,
        )

    return _fund
