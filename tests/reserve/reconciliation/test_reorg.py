"""A reorg onto a competing branch that drops two transactions and re-mines a third: the scanner
walks back to the fork point, reverses what it booked, rescans, and the policy is re-checked."""

from __future__ import annotations

import pytest

from ledger.models import JournalTransaction
from ledger.selectors import account_balance
from policy.models import PolicyEvaluation
from reserve.chain.blocks import Outpoint
from reserve.custody.services import agency_create
from reserve.outbox.models import OutboxMessage
from reserve.reconciliation.models import ChainBlock, Discrepancy, ScanCursor, WalletUtxo
from reserve.reconciliation.services import wallet_reconcile
from reserve.transfers.models import Transfer
from reserve.transfers.services import transfer_approve, transfer_create, transfer_mark_broadcast, transfer_propose
from tests.regtest.blocks import mine_block, spend_p2wpkh
from tests.regtest.keys import WalletKey
from tests.reserve.reconciliation.conftest import FEE_SATS, Coin, Payer, key_wallet, pay, txid_of
from tests.users import make_user

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_reorg_reverses_postings_of_dropped_blocks_and_rebooks_what_is_mined_again(segwit_chain):
    # given: cold receives a forfeiture (B1) and sends part of it out (B2); hot receives a donation (B2)
    source, payer, miner = segwit_chain.source, Payer(segwit_chain, 5), segwit_chain.miner_key
    operator, approver, approver2 = (
        make_user("olga", "operator"),
        make_user("ana", "approver"),
        make_user("bruno", "approver"),
    )
    agency = agency_create(name="Treasury", kind="ministry", actor=operator)
    cold_key, hot_key, buyer, thief = (WalletKey(f"reorg {name}") for name in ("cold", "hot", "buyer", "thief"))
    birthday = source.block_count() + 1
    cold = key_wallet(operator, agency, "reorg-cold", cold_key, birthday_height=birthday)
    hot = key_wallet(operator, agency, "reorg-hot", hot_key, birthday_height=birthday, kind="hot")

    def approved(**fields):
        transfer = transfer_create(actor=operator, **fields)
        transfer_propose(transfer=transfer, actor=operator)
        transfer_approve(transfer=transfer, actor=approver)
        return transfer_approve(transfer=transfer, actor=approver2)

    forfeiture = approved(
        direction="inbound",
        category="forfeiture",
        amount_sats=10_000_000,
        destination_wallet=cold,
        provenance_reference="Order 5",
    )
    seized_coin = payer.coin()
    seized = pay([seized_coin], [(cold_key.p2wpkh_script, 10_000_000)], change=miner)
    fork_hash = source.best_block_hash()
    b1 = mine_block(source, payout_script=miner.p2wpkh_script, transactions=[seized])
    wallet_reconcile(wallet=cold, source=source)
    sale = pay(
        [Coin(Outpoint(txid_of(seized), 0), 10_000_000, cold_key)], [(buyer.p2wpkh_script, 4_000_000)], change=cold_key
    )
    outbound = approved(
        direction="outbound",
        category="return_to_victims",
        amount_sats=4_000_000,
        fee_sats=FEE_SATS,
        source_wallet=cold,
        external_address=buyer.p2wpkh_address,
        provenance_reference="Order 5b",
    )
    transfer_mark_broadcast(transfer=outbound, actor=operator, txid=txid_of(sale))
    donation = pay([payer.coin()], [(hot_key.p2wpkh_script, 2_000_000)], change=miner)
    b2 = mine_block(source, payout_script=miner.p2wpkh_script, transactions=[sale, donation])
    wallet_reconcile(wallet=cold, source=source)
    wallet_reconcile(wallet=hot, source=source)
    forfeiture.refresh_from_db()
    outbound.refresh_from_db()
    observed = Transfer.objects.get(destination_wallet=hot, observed=True)
    assert (forfeiture.status, outbound.status, observed.status) == ("confirmed", "confirmed", "confirmed")
    assert account_balance(account=cold.ledger_account) == 10_000_000 - 4_000_000 - FEE_SATS
    detections_before = PolicyEvaluation.objects.filter(gate="observed").count()

    # when: a longer branch from B1's parent spends the seized coin elsewhere (dropping both of
    # cold's transactions) and mines the donation again in its second block
    conflicting = spend_p2wpkh(miner, [(seized_coin.outpoint, seized_coin.value_sats)], [(thief.p2wpkh_script, 10**8)])
    n1 = mine_block(source, payout_script=thief.p2wpkh_script, transactions=[conflicting], parent_hash=fork_hash)
    n2 = mine_block(source, payout_script=thief.p2wpkh_script, transactions=[donation], parent_hash=n1)
    n3 = mine_block(source, payout_script=thief.p2wpkh_script, parent_hash=n2)
    assert source.best_block_hash() == n3
    cold_run = wallet_reconcile(wallet=cold, source=source)
    hot_run = wallet_reconcile(wallet=hot, source=source)

    # then: the dropped blocks are reorged, the new ones active
    statuses = dict(ChainBlock.objects.filter(hash__in=[b1, b2, n1, n2, n3]).values_list("hash", "status"))
    assert statuses == {b1: "reorged", b2: "reorged", n1: "active", n2: "active", n3: "active"}
    assert (cold_run.reorgs, hot_run.reorgs) == (1, 1)
    assert ScanCursor.objects.get(wallet=cold).block_hash == n3
    # and cold's postings are reversed (never deleted), its outputs gone, its books back to zero
    forfeiture.refresh_from_db()
    outbound.refresh_from_db()
    assert (forfeiture.status, outbound.status) == ("reorged", "reorged")
    for transfer in (forfeiture, outbound):
        assert transfer.reversal_transaction is not None
        assert transfer.reversal_transaction.reverses_id == transfer.journal_transaction_id
        assert JournalTransaction.objects.filter(pk=transfer.journal_transaction_id).exists()
    assert cold_run.chain_balance_sats == cold_run.ledger_balance_sats == 0
    assert set(WalletUtxo.objects.filter(wallet=cold).values_list("status", flat=True)) == {"reorged"}
    # and the transactions the new branch dropped are reported missing on chain
    missing = Discrepancy.objects.filter(wallet=cold, kind="missing_on_chain", status="open")
    assert set(missing.values_list("transfer_id", flat=True)) == {forfeiture.pk, outbound.pk}
    # and the donation, mined again, is booked again at its new block
    observed.refresh_from_db()
    assert (observed.status, observed.block_hash) == ("confirmed", n2)
    assert hot_run.chain_balance_sats == hot_run.ledger_balance_sats == 2_000_000
    inflows = Discrepancy.objects.filter(wallet=hot, kind="unrecorded_inflow").order_by("id")
    assert [(d.status, d.block_height) for d in inflows] == [
        ("resolved", source.block_header(b2)["height"]),
        ("open", source.block_header(n2)["height"]),
    ]
    assert "reorg" in inflows[0].resolution_reason
    # and the continuous policy rules were re-checked for each reorged and re-booked movement
    assert PolicyEvaluation.objects.filter(gate="observed").count() >= detections_before + 3
    assert PolicyEvaluation.objects.filter(gate="observed", subject_id=str(forfeiture.pk)).exists()
    # and the other wallet was asked, through the outbox, to follow the reorg
    assert OutboxMessage.objects.filter(task_name="reserve.reconcile_wallet_task", args=[hot.pk]).exists()
