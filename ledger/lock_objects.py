"""Row locks of the ledger, always taken in primary-key order so concurrent writers cannot deadlock."""

from __future__ import annotations

from collections.abc import Iterable

from ledger.models import AccountBalance


def balances_lock(*, account_ids: Iterable[int]) -> dict[int, AccountBalance]:
    """Lock the balance rows of these accounts (Saleor style: FOR UPDATE OF self ORDER BY pk)."""
    rows = AccountBalance.objects.select_for_update(of=("self",)).filter(account_id__in=set(account_ids)).order_by("pk")
    return {row.account_id: row for row in rows}
