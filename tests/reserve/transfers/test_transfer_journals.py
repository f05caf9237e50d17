"""Which journal transactions book a transfer, asked of the ledger in its own terms: every
posting reserve makes for a transfer is keyed under "reserve:transfer:<pk>:", so the ledger's
prefix selector finds them all, including the ones the transfer's two foreign keys have let go
(a first confirmation and its reversal after a reorg) and the import postings that carry no
`transfer_id` metadata."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.selectors import journal_transactions_by_key_prefix
from reserve.custody.models import Wallet
from reserve.transfers.models import Transfer
from reserve.transfers.services import transfer_confirm, transfer_mark_reorged, transfer_record_observed
from tests.reserve.approved_imports import import_transfers
from tests.reserve.conftest import block_time, fake_hash

pytestmark = pytest.mark.django_db


def prefix(transfer: Transfer) -> str:
    return f"reserve:transfer:{transfer.pk}:"


def test_a_reorged_and_re_mined_transfer_finds_all_three_postings(cold_wallet: Wallet) -> None:
    # given: an observed inflow, reorged away, mined again in another block
    transfer, _ = transfer_record_observed(
        direction="inbound",
        amount_sats=12_345,
        txid=fake_hash("gift"),
        vout=1,
        block_height=150,
        block_hash=fake_hash("gift:block"),
        occurred_at=block_time(3),
        destination_wallet=cold_wallet,
        category="donation",
    )
    first = transfer.journal_transaction
    transfer = transfer_mark_reorged(transfer=transfer)
    reversal = transfer.reversal_transaction
    transfer = transfer_confirm(
        transfer=transfer,
        txid=fake_hash("gift"),
        vout=1,
        block_height=151,
        block_hash=fake_hash("gift-again:block"),
        occurred_at=block_time(4),
    )
    # when
    found = journal_transactions_by_key_prefix(prefixes=[prefix(transfer)])[prefix(transfer)]
    # then
    assert first is not None and reversal is not None
    assert [journal.pk for journal in found] == [first.pk, reversal.pk, transfer.journal_transaction_id]
    assert reversal.reverses_id == first.pk


def test_each_imported_transfer_finds_its_own_posting(operator: Any, cold_wallet: Wallet, vault_wallet: Wallet) -> None:
    # given
    rows = (
        "occurred_at,direction,category,amount_btc,fee_btc,source_wallet,destination_wallet,txid,vout,block_height\n"
        f"2025-01-10T10:00:00Z,inbound,forfeiture,1.5,,,{cold_wallet.name},{fake_hash('h1')},0,800000\n"
        f"2025-02-10T10:00:00Z,internal,internal_consolidation,1,0.0001,{cold_wallet.name},{vault_wallet.name},"
        f"{fake_hash('h2')},0,800100\n"
    )
    created = import_transfers(text=rows, proposer=operator)
    # when
    found = journal_transactions_by_key_prefix(prefixes=[prefix(transfer) for transfer in created])
    # then
    assert len(created) == 2
    assert {key: [journal.pk for journal in journals] for key, journals in found.items()} == {
        prefix(transfer): [transfer.journal_transaction_id] for transfer in created
    }
