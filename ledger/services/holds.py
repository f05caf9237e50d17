"""Locks a caller takes up front, for a database transaction that will post several times.

Each posting locks its own accounts' balance rows in primary-key order; a transaction that
posts several times (a block's bookings) would otherwise lock them in the order its postings
come, and deadlock with another writer's single posting. Holding every row it may touch first,
in one pass in key order, keeps one global order: later locks of the same rows are no-ops."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from ledger.lock_objects import balances_lock
from ledger.models import Account, AccountType


def balances_hold(*, account_ids: Iterable[int], shared_accounts: bool = True) -> int:
    """Lock the balance rows of `account_ids` (and, with `shared_accounts`, of every account that
    is not a custody wallet's: equity, expense and income, which most postings share) in key
    order, inside the caller's transaction; returns how many rows are held."""
    ids = set(account_ids)
    if shared_accounts:
        shared = Account.objects.filter(~Q(account_type=AccountType.ASSET)).values_list("pk", flat=True)
        ids.update(shared)
    return len(balances_lock(account_ids=ids))
