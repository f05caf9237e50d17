"""Writes of the ledger; every other app calls these and nothing below them."""

from ledger.services.accounts import account_create
from ledger.services.batch import PostingSpec, post_batch
from ledger.services.checkpoints import ledger_checkpoint_refresh
from ledger.services.holds import balances_hold
from ledger.services.imports import ImportResult, ledger_import_csv, ledger_import_read
from ledger.services.pending import pending_create, pending_expire, pending_post, pending_void
from ledger.services.posting import EntrySpec, post_transaction, reverse_transaction

__all__ = [
    "EntrySpec",
    "ImportResult",
    "PostingSpec",
    "account_create",
    "balances_hold",
    "ledger_checkpoint_refresh",
    "ledger_import_csv",
    "ledger_import_read",
    "pending_create",
    "pending_expire",
    "pending_post",
    "pending_void",
    "post_batch",
    "post_transaction",
    "reverse_transaction",
]
