"""The accounting map of a transfer: which ledger accounts its legs debit and credit."""

from __future__ import annotations

from ledger.models import Account, AccountType
from ledger.services import (
    EntrySpec,
    account_create,
)
from reserve.transfers.models import (
    Transfer,
    TransferDirection,
)

FEES_ACCOUNT = "expense:fees"


def _equity_account(prefix: str, category: str) -> Account:
    return account_create(
        code=f"equity:{prefix}:{category}",
        name=f"{prefix.capitalize()}: {category.replace('_', ' ')}",
        account_type=AccountType.EQUITY,
    )


def _fees_account() -> Account:
    return account_create(code=FEES_ACCOUNT, name="Network fees", account_type=AccountType.EXPENSE)


def transfer_ledger_entries(transfer: Transfer, *, fee_sats: int | None = None) -> list[EntrySpec]:
    """The legs a confirmed transfer posts (debit > 0, credit < 0)."""
    fee = transfer.fee_sats if fee_sats is None else fee_sats
    amount = transfer.amount_sats
    if transfer.direction == TransferDirection.INBOUND:
        assert transfer.destination_wallet is not None
        return [
            EntrySpec(account=transfer.destination_wallet.ledger_account, amount_sats=amount),
            EntrySpec(account=_equity_account("acquisitions", transfer.category), amount_sats=-amount),
        ]
    assert transfer.source_wallet is not None
    legs = [EntrySpec(account=transfer.source_wallet.ledger_account, amount_sats=-(amount + fee))]
    if transfer.direction == TransferDirection.OUTBOUND:
        legs.append(EntrySpec(account=_equity_account("disposals", transfer.category), amount_sats=amount))
    else:
        assert transfer.destination_wallet is not None
        legs.append(EntrySpec(account=transfer.destination_wallet.ledger_account, amount_sats=amount))
    if fee:
        legs.append(EntrySpec(account=_fees_account(), amount_sats=fee))
    return legs
