"""Writes of the treasury domain; the admin, the API and the tasks call these and nothing below them."""

from reserve.services.agencies import agency_create, counterparty_create
from reserve.services.imports import transfers_import_csv
from reserve.services.pricing import price_quotes_import_csv
from reserve.services.transfers import (
    transfer_approve,
    transfer_cancel,
    transfer_confirm,
    transfer_create,
    transfer_finalize,
    transfer_mark_broadcast,
    transfer_mark_failed,
    transfer_mark_reorged,
    transfer_propose,
    transfer_record_observed,
    transfer_reject,
)
from reserve.services.wallets import wallet_extend_gap, wallet_register, wallet_update

__all__ = [
    "agency_create",
    "counterparty_create",
    "price_quotes_import_csv",
    "transfer_approve",
    "transfer_cancel",
    "transfer_confirm",
    "transfer_create",
    "transfer_finalize",
    "transfer_mark_broadcast",
    "transfer_mark_failed",
    "transfer_mark_reorged",
    "transfer_propose",
    "transfer_record_observed",
    "transfer_reject",
    "transfers_import_csv",
    "wallet_extend_gap",
    "wallet_register",
    "wallet_update",
]
