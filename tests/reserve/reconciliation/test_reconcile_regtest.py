"""Reconciliation against a live regtest node: transactions signed by the tests, mined into
blocks, then scanned, matched to transfers, booked, and compared with the ledger."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from config.errors import Conflict
from ledger.models import Account, AccountType, JournalTransaction
from ledger.selectors import account_balance
from ledger.services import EntrySpec, account_create, post_transaction
from policy.models import PolicyBreach, PolicyEvaluation
from reserve.chain.blocks import Outpoint
from reserve.chain.errors import BlockVerificationError, NodeUnavailable
from reserve.chain.rpc import RpcChainSource
from reserve.custody.models import WatchedScript
from reserve.custody.services import agency_create, wallet_register
from reserve.reconciliation.models import (
    BlockStatus,
    ChainBlock,
    Discrepancy,
    ReconciliationRun,
    RunStatus,
    ScanCursor,
    UtxoStatus,
    WalletUtxo,
)
from reserve.reconciliation.services import discrepancy_resolve, wallet_reconcile
from reserve.transfers.models import Transfer, TransferStatus
from reserve.transfers.services import transfer_approve, transfer_create, transfer_mark_broadcast, transfer_propose
from tests.regtest.blocks import block_subsidy_sats, generate_to_address
from tests.regtest.keys import WalletKey
from tests.reserve.conftest import TPUB_A
from tests.reserve.reconciliation.conftest import (
    FEE_SATS,
    NO_DISPOSAL,
    SINCE_GENESIS,
    Coin,
    Payer,
    adopt_policy,
    key_wallet,
    mine,
    pay,
    txid_of,
)
from tests.users import make_user

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

# Coinbase heights each test spends from (mature at the segwit chain's height 520); disjoint per test.
PAYER_START = {"inflows": 10, "outflows": 30, "unmined": 50, "refused": 70, "elsewhere": 90}


@pytest.fixture
def people(db: None) -> dict[str, Any]:
    return {
        "operator": make_user("olga", "operator"),
        "approver": make_user("ana", "approver"),
        "approver2": make_user("bruno", "approver"),
    }


def approved(people: dict[str, Any], **fields: Any) -> Transfer:
    """A transfer drafted, proposed and approved by two approvers (the default quorum)."""
    transfer = transfer_create(actor=people["operator"], **fields)
    transfer_propose(transfer=transfer, actor=people["operator"])
    transfer_approve(transfer=transfer, actor=people["approver"])
    return transfer_approve(transfer=transfer, actor=people["approver2"])


def balance(wallet: Any) -> int:
    return account_balance(account=wallet.ledger_account)


def open_kinds(wallet: Any) -> list[str]:
    return sorted(Discrepancy.objects.filter(wallet=wallet, status="open").values_list("kind", flat=True))


def tip(source: RpcChainSource) -> int:
    return source.block_count()


def test_inflows_are_matched_to_transfers_or_recorded_as_observed(segwit_chain, people, capsys, settings):
    # given: two perimeter wallets born at the next block, and an approved inbound forfeiture to cold
    source, payer = segwit_chain.source, Payer(segwit_chain, PAYER_START["inflows"])
    operator = people["operator"]
    agency = agency_create(name="Treasury", kind="ministry", actor=operator)
    cold_key, hot_key = WalletKey("inflows cold"), WalletKey("inflows hot")
    cold = key_wallet(operator, agency, "inflows-cold", cold_key, birthday_height=tip(source) + 1)
    hot = key_wallet(operator, agency, "inflows-hot", hot_key, birthday_height=tip(source) + 1, kind="hot")
    forfeiture = approved(
        people,
        direction="inbound",
        category="forfeiture",
        amount_sats=7_000_000,
        destination_wallet=cold,
        provenance_reference="Final order 2026-17",
    )

    # when: the forfeited coins arrive (txid unknown to the books: matched by address and amount),
    # a donation nobody proposed lands in hot, and the block is buried under 5 more
    seized = pay([payer.coin()], [(cold_key.p2wpkh_script, 7_000_000)], change=segwit_chain.miner_key)
    donation = pay([payer.coin()], [(hot_key.p2wpkh_script, 1_500_000)], change=segwit_chain.miner_key)
    block_hash = mine(source, seized, donation)
    block_height = tip(source)
    cold_run = wallet_reconcile(wallet=cold, source=source)
    hot_run = wallet_reconcile(wallet=hot, source=source)

    # then: the forfeiture is confirmed on the chain's txid, the donation booked as observed
    forfeiture.refresh_from_db()
    assert (forfeiture.status, forfeiture.txid, forfeiture.vout) == ("confirmed", txid_of(seized), 0)
    assert (forfeiture.block_height, forfeiture.block_hash) == (block_height, block_hash)
    observed = Transfer.objects.get(destination_wallet=hot, observed=True)
    assert (observed.direction, observed.amount_sats, observed.txid, observed.status) == (
        "inbound",
        1_500_000,
        txid_of(donation),
        "confirmed",
    )
    assert PolicyEvaluation.objects.filter(gate="observed", subject_id=str(observed.pk)).exists()
    # and the runs agree with the books, with one discrepancy: the unrecorded inflow
    assert (cold_run.status, cold_run.height, cold_run.block_hash) == ("succeeded", block_height, block_hash)
    assert (cold_run.blocks_scanned, cold_run.matched_count, cold_run.observed_count) == (1, 1, 0)
    assert cold_run.chain_balance_sats == cold_run.ledger_balance_sats == balance(cold) == 7_000_000
    assert (hot_run.matched_count, hot_run.observed_count) == (0, 1)
    assert hot_run.chain_balance_sats == hot_run.ledger_balance_sats == 1_500_000
    assert open_kinds(cold) == [] and open_kinds(hot) == ["unrecorded_inflow"]
    [inflow] = Discrepancy.objects.filter(wallet=hot)
    assert (inflow.txid, inflow.vout, inflow.actual_sats, inflow.transfer_id) == (
        txid_of(donation),
        0,
        1_500_000,
        observed.pk,
    )
    [utxo] = WalletUtxo.objects.filter(wallet=cold)
    assert (utxo.txid, utxo.vout, utxo.value_sats, utxo.status) == (txid_of(seized), 0, 7_000_000, "unspent")
    assert ChainBlock.objects.get(hash=block_hash).status == BlockStatus.ACTIVE

    # when: five more blocks (depth 6), reconciled from the command line
    generate_to_address(source, 5, WalletKey("inflows filler").p2wpkh_address)
    settings.BITCOIN_RPC_URL = segwit_chain.node.rpc_url
    call_command("reconcile", "--wallet", "inflows-cold")

    # then: final, and the progress line names blocks, blocks/s and ETA
    forfeiture.refresh_from_db()
    assert forfeiture.status == TransferStatus.FINAL
    scanned_to = ScanCursor.objects.get(wallet=cold).height
    unspent = WalletUtxo.objects.filter(wallet=cold, status=UtxoStatus.UNSPENT)
    assert [(u.txid, u.value_sats, scanned_to - u.block_height + 1) for u in unspent] == [
        (txid_of(seized), 7_000_000, 6)
    ]
    run = ReconciliationRun.objects.filter(wallet=cold).latest("id")
    assert (run.trigger, run.blocks_scanned, run.finalized_count, run.final_balance_sats) == (
        "command",
        5,
        1,
        7_000_000,
    )
    out = capsys.readouterr().out
    assert "blocks/s" in out and "ETA" in out and "inflows-cold: height" in out
    # and a rerun scans nothing and books nothing twice: it is no news, so no new run row
    again = wallet_reconcile(wallet=cold, source=source)
    assert again == run and ReconciliationRun.objects.filter(wallet=cold).latest("id") == run
    assert again.ledger_balance_sats == balance(cold) == 7_000_000
    assert JournalTransaction.objects.filter(txid=txid_of(seized)).count() == 1


def test_outflows_internal_and_external_are_confirmed_observed_and_fees_checked(segwit_chain, people):
    # given: cold holds one output of 20_000_000 sats; an internal cold -> hot transfer is approved
    # with a proposed fee that differs from what the signed transaction pays
    source, payer = segwit_chain.source, Payer(segwit_chain, PAYER_START["outflows"])
    operator = people["operator"]
    agency = agency_create(name="Reserve Fund", kind="reserve_fund", actor=operator)
    cold_key, hot_key, outsider = WalletKey("outflows cold"), WalletKey("outflows hot"), WalletKey("outflows thief")
    cold = key_wallet(operator, agency, "outflows-cold", cold_key, birthday_height=tip(source) + 1)
    hot = key_wallet(operator, agency, "outflows-hot", hot_key, birthday_height=tip(source) + 1, kind="hot")
    funding = pay([payer.coin()], [(cold_key.p2wpkh_script, 20_000_000)], change=segwit_chain.miner_key)
    mine(source, funding)
    wallet_reconcile(wallet=cold, source=source)
    internal = approved(
        people,
        direction="internal",
        category="internal_consolidation",
        amount_sats=5_000_000,
        fee_sats=2_500,
        source_wallet=cold,
        destination_wallet=hot,
    )
    victims = WalletKey("outflows victims")
    restitution = approved(
        people,
        direction="outbound",
        category="return_to_victims",
        amount_sats=2_000_000,
        source_wallet=cold,
        external_address=victims.p2wpkh_address,
        provenance_reference="Restitution order 12",
    )
    # when: one transaction pays hot (the internal proposal, broadcast with its txid), the victims
    # (approved, txid never recorded), an outside address (nobody proposed it) and change
    spend = pay(
        [Coin(Outpoint(txid_of(funding), 0), 20_000_000, cold_key)],
        [
            (hot_key.p2wpkh_script, 5_000_000),
            (outsider.p2wpkh_script, 3_000_000),
            (victims.p2wpkh_script, 2_000_000),
        ],
        change=cold_key,
    )
    transfer_mark_broadcast(transfer=internal, actor=operator, txid=txid_of(spend))
    block_hash = mine(source, spend)
    cold_run = wallet_reconcile(wallet=cold, source=source)
    hot_run = wallet_reconcile(wallet=hot, source=source)

    # then: the internal transfer is confirmed with the fee actually paid; the outside payment is
    # an observed outbound transfer; each wallet's books equal its chain balance
    internal.refresh_from_db()
    restitution.refresh_from_db()
    assert (internal.status, internal.block_hash, internal.fee_sats) == ("confirmed", block_hash, FEE_SATS)
    assert (restitution.status, restitution.txid, restitution.vout) == ("confirmed", txid_of(spend), 2)
    observed = Transfer.objects.get(source_wallet=cold, observed=True)
    assert (observed.direction, observed.amount_sats, observed.external_address, observed.vout) == (
        "outbound",
        3_000_000,
        outsider.p2wpkh_address,
        1,
    )
    change = 20_000_000 - 5_000_000 - 3_000_000 - 2_000_000 - FEE_SATS
    assert cold_run.chain_balance_sats == cold_run.ledger_balance_sats == change
    assert hot_run.chain_balance_sats == hot_run.ledger_balance_sats == 5_000_000
    assert (cold_run.matched_count, cold_run.observed_count) == (2, 1)
    # (the funding itself was an unproposed inflow)
    assert open_kinds(cold) == ["fee_mismatch", "unrecorded_inflow", "unrecorded_outflow"]
    fee = Discrepancy.objects.get(wallet=cold, kind="fee_mismatch")
    assert (fee.expected_sats, fee.actual_sats, fee.txid) == (2_500, FEE_SATS, txid_of(spend))
    # hot's scan saw the inflow from a registered wallet and left its booking to cold: no double count
    assert open_kinds(hot) == [] and not Transfer.objects.filter(destination_wallet=hot, observed=True).exists()
    utxos = {(u.txid, u.vout): u.status for u in WalletUtxo.objects.filter(wallet=cold)}
    assert utxos == {(txid_of(funding), 0): "spent", (txid_of(spend), 3): "unspent"}
    assert WalletUtxo.objects.get(wallet=cold, txid=txid_of(funding)).spent_by_txid == txid_of(spend)


def test_unmined_transfers_amount_mismatch_and_resolution_with_adjustment(segwit_chain, people):
    # given: cold funded and reconciled
    source, payer = segwit_chain.source, Payer(segwit_chain, PAYER_START["unmined"])
    operator = people["operator"]
    agency = agency_create(name="Police", kind="law_enforcement", actor=operator)
    cold_key, exchange = WalletKey("unmined cold"), WalletKey("unmined exchange")
    cold = key_wallet(operator, agency, "unmined-cold", cold_key, birthday_height=tip(source) + 1)
    funding = pay([payer.coin()], [(cold_key.p2wpkh_script, 30_000_000)], change=segwit_chain.miner_key)
    mine(source, funding)
    wallet_reconcile(wallet=cold, source=source)
    funded = Coin(Outpoint(txid_of(funding), 0), 30_000_000, cold_key)

    def outbound(amount: int, txid: str) -> Transfer:
        transfer = approved(
            people,
            direction="outbound",
            category="return_to_victims",
            amount_sats=amount,
            fee_sats=FEE_SATS,
            source_wallet=cold,
            external_address=exchange.p2wpkh_address,
            provenance_reference="Court order 88",
        )
        return transfer_mark_broadcast(transfer=transfer, actor=operator, txid=txid)

    # when: one sale-free return is broadcast but not mined, one names a txid that never existed
    waiting = pay([funded], [(exchange.p2wpkh_script, 4_000_000)], change=cold_key)
    source.send_raw_transaction(waiting.serialize())
    in_mempool = outbound(4_000_000, txid_of(waiting))
    vanished = outbound(1_000_000, "ab" * 32)
    run = wallet_reconcile(wallet=cold, source=source)

    # then
    assert open_kinds(cold) == ["missing_on_chain", "unconfirmed", "unrecorded_inflow"]
    assert Discrepancy.objects.get(wallet=cold, kind="unconfirmed").transfer_id == in_mempool.pk
    assert Discrepancy.objects.get(wallet=cold, kind="missing_on_chain").transfer_id == vanished.pk
    assert run.discrepancy_count == 3

    # when: the waiting transaction is mined, but the transfer said 4_000_000 and a second one
    # claims the same txid for 2_000_000 to the same address
    claims = outbound(2_000_000, txid_of(waiting))
    mine(source, waiting)
    wallet_reconcile(wallet=cold, source=source)

    # then: the exact match is confirmed (its unconfirmed discrepancy resolves itself), the other
    # is an amount mismatch; the chain and the books still agree on the balance
    in_mempool.refresh_from_db()
    claims.refresh_from_db()
    assert in_mempool.status == "confirmed" and claims.status == "broadcast"
    mismatch = Discrepancy.objects.get(wallet=cold, kind="amount_mismatch", status="open")
    assert (mismatch.transfer_id, mismatch.expected_sats) == (claims.pk, 2_000_000)
    assert Discrepancy.objects.get(wallet=cold, kind="unconfirmed").status == "resolved"

    # when: an operator resolves the missing transaction with a reason, and corrects the books by an
    # adjustment (say an uncounted dust output was found and confirmed on chain)
    missing = Discrepancy.objects.get(wallet=cold, kind="missing_on_chain")
    before = balance(cold)
    resolved = discrepancy_resolve(
        discrepancy=missing, reason="custodian confirms it was never signed", actor=operator, adjustment_sats=-1
    )

    # then: resolved, audited, and the adjustment is a posting of its own
    assert resolved.adjustment is not None
    assert (resolved.status, resolved.resolved_by, resolved.adjustment.kind) == (
        "resolved",
        operator,
        "reconciliation_adjustment",
    )
    assert balance(cold) == before - 1
    assert account_balance(account=Account.objects.get(code="equity:reconciliation-adjustments")) == 1
    with pytest.raises(Conflict):
        discrepancy_resolve(discrepancy=missing, reason="again", actor=operator)


def test_a_transaction_signed_elsewhere_that_differs_from_the_approval_opens_discrepancies_and_breaches(
    segwit_chain, people
):
    # given: cold funded; a return of 2_000_000 to the exchange approved under a no-disposal policy
    source, payer = segwit_chain.source, Payer(segwit_chain, PAYER_START["elsewhere"])
    operator = people["operator"]
    agency = agency_create(name="Customs", kind="law_enforcement", actor=operator)
    cold_key, exchange, stranger = WalletKey("elsewhere cold"), WalletKey("elsewhere exchange"), WalletKey("stranger")
    cold = key_wallet(operator, agency, "elsewhere-cold", cold_key, birthday_height=tip(source) + 1)
    funding = pay([payer.coin()], [(cold_key.p2wpkh_script, 30_000_000)], change=segwit_chain.miner_key)
    mine(source, funding)
    wallet_reconcile(wallet=cold, source=source)
    transfer = approved(
        people,
        direction="outbound",
        category="return_to_victims",
        amount_sats=2_000_000,
        fee_sats=FEE_SATS,
        source_wallet=cold,
        external_address=exchange.p2wpkh_address,
        provenance_reference="Court order 90",
    )
    adopt_policy(NO_DISPOSAL, since=SINCE_GENESIS)

    # when: signed outside the service to pay the exchange 2_500_000 and a stranger 1_000_000,
    # sent to the node, marked broadcast with its txid, mined and reconciled
    spend = pay(
        [Coin(Outpoint(txid_of(funding), 0), 30_000_000, cold_key)],
        [(exchange.p2wpkh_script, 2_500_000), (stranger.p2wpkh_script, 1_000_000)],
        change=cold_key,
    )
    source.send_raw_transaction(spend.serialize())
    transfer_mark_broadcast(transfer=transfer, actor=operator, txid=txid_of(spend))
    mine(source, spend)
    wallet_reconcile(wallet=cold, source=source)

    # then: each output that differs from the approval is a discrepancy and a no-disposal breach
    mismatch = Discrepancy.objects.get(wallet=cold, kind="amount_mismatch", txid=txid_of(spend))
    outflow = Discrepancy.objects.get(wallet=cold, kind="unrecorded_outflow")
    assert (mismatch.transfer_id, mismatch.actual_sats, outflow.actual_sats) == (transfer.pk, 2_500_000, 1_000_000)
    assert outflow.transfer is not None
    breaches = PolicyBreach.objects.filter(status="open", rule_type="no_disposal")
    assert sorted(breaches.values_list("subject_type", "subject_id", "measured_sats")) == [
        ("reserve.discrepancy", str(mismatch.pk), 2_500_000),
        ("reserve.transfer", str(outflow.transfer.pk), 1_000_000),
    ]
    transfer.refresh_from_db()
    assert transfer.status == "broadcast"


def test_descriptor_wallet_extends_its_window_as_addresses_get_used(segwit_chain, people):
    # given: a descriptor wallet watching 3 receive and 3 change addresses (gap limit 3)
    source = segwit_chain.source
    operator = people["operator"]
    agency = agency_create(name="Mining Agency", kind="other", actor=operator)
    wallet = wallet_register(
        name="gap-cold",
        agency=agency,
        kind="mining_payout",
        network="regtest",
        gap_limit=3,
        birthday_height=tip(source) + 1,
        descriptors=[f"wpkh([73c5da0a/84h/1h/0h]{TPUB_A}/<0;1>/*)"],
        actor=operator,
    )
    receive = {s.index: s for s in WatchedScript.objects.filter(wallet=wallet, chain=0)}
    assert set(receive) == {0, 1, 2}

    # when: a coinbase pays index 2; the scanner then derives up to index 5, which a later block pays
    generate_to_address(source, 1, receive[2].address)
    first_height = tip(source)
    run = wallet_reconcile(wallet=wallet, source=source)
    fifth = WatchedScript.objects.get(wallet=wallet, chain=0, index=5)
    generate_to_address(source, 1, fifth.address)
    run = wallet_reconcile(wallet=wallet, source=source)

    # then: both payouts found and booked as observed mining rewards; the window is 3 past index 5
    assert set(WatchedScript.objects.filter(wallet=wallet, chain=0).values_list("index", flat=True)) == set(range(9))
    assert WalletUtxo.objects.filter(wallet=wallet, status=UtxoStatus.UNSPENT).count() == 2
    assert set(Transfer.objects.filter(destination_wallet=wallet).values_list("category", flat=True)) == {
        "mining_reward"
    }
    assert (
        run.chain_balance_sats
        == run.ledger_balance_sats
        == sum(block_subsidy_sats(height) for height in (first_height, first_height + 1))
    )


class TamperingSource(RpcChainSource):
    """The node's answers, with the value of the output paying `script` raised in every block."""

    script: bytes = b""

    def raw_block(self, block_hash: str) -> bytes:
        raw = super().raw_block(block_hash)
        at = raw.find(bytes([len(self.script)]) + self.script)
        if at > 0:
            raw = raw[: at - 1] + bytes([raw[at - 1] + 1]) + raw[at:]  # top byte of the 8-byte value
        return raw


def test_a_block_failing_verification_is_refused_reported_and_not_scanned(segwit_chain, regtest_node, people):
    # given: a wallet paid in the next block, which the source tampers with
    source = segwit_chain.source
    operator = people["operator"]
    agency = agency_create(name="Refusals", kind="other", actor=operator)
    key = WalletKey("refused cold")
    wallet = key_wallet(operator, agency, "refused-cold", key, birthday_height=tip(source) + 1)
    [block_hash] = generate_to_address(source, 1, key.p2wpkh_address)
    tampering = TamperingSource(regtest_node.rpc_url, network="regtest")
    tampering.script = key.p2wpkh_script

    # when
    with pytest.raises(BlockVerificationError):
        wallet_reconcile(wallet=wallet, source=tampering)

    # then: the run failed with the reason, the block is recorded as rejected, nothing was scanned
    run = ReconciliationRun.objects.get(wallet=wallet)
    assert run.status == RunStatus.FAILED and "merkle root" in run.error
    refused = ChainBlock.objects.get(hash=block_hash)
    assert (refused.status, refused.verified_at) == (BlockStatus.REJECTED, None)
    assert ScanCursor.objects.get(wallet=wallet).height == -1
    assert not WalletUtxo.objects.filter(wallet=wallet).exists()

    # when: an honest answer for the same block arrives, it is verified and scanned
    honest = wallet_reconcile(wallet=wallet, source=source)
    assert honest.status == "succeeded" and ChainBlock.objects.get(hash=block_hash).status == BlockStatus.ACTIVE
    assert honest.chain_balance_sats == honest.ledger_balance_sats == block_subsidy_sats(refused.height)


def test_a_movement_the_books_cannot_take_is_reported_and_the_scan_goes_on(segwit_chain, people):
    # given: cold received 10_000_000 sats unannounced, and an operator wrote them off the books
    source, payer = segwit_chain.source, Payer(segwit_chain, PAYER_START["refused"])
    operator = people["operator"]
    agency = agency_create(name="Write-offs", kind="other", actor=operator)
    cold_key, outsider = WalletKey("write-off cold"), WalletKey("write-off outsider")
    cold = key_wallet(operator, agency, "write-off-cold", cold_key, birthday_height=tip(source) + 1)
    funding = pay([payer.coin()], [(cold_key.p2wpkh_script, 10_000_000)], change=segwit_chain.miner_key)
    mine(source, funding)
    wallet_reconcile(wallet=cold, source=source)
    discrepancy_resolve(
        discrepancy=Discrepancy.objects.get(wallet=cold, kind="unrecorded_inflow"),
        reason="the coins belong to another agency's case",
        actor=operator,
        adjustment_sats=-10_000_000,
    )
    assert balance(cold) == 0

    # when: the coins leave, which the books (at zero) cannot take, and another block follows
    sweep = pay([Coin(Outpoint(txid_of(funding), 0), 10_000_000, cold_key)], [(outsider.p2wpkh_script, 9_999_000)])
    mine(source, sweep)
    mine(source)
    run = wallet_reconcile(wallet=cold, source=source)

    # then: the run reached the tip, and the outflow is reported without a booking
    assert (run.status, run.height, run.blocks_scanned) == ("succeeded", tip(source), 2)
    outflow = Discrepancy.objects.get(wallet=cold, kind="unrecorded_outflow")
    assert outflow.transfer is None and "the books refused it" in outflow.detail
    assert outflow.actual_sats == 9_999_000
    assert run.chain_balance_sats == run.ledger_balance_sats == 0


def test_a_run_with_nothing_new_moves_last_checked_and_records_no_row(segwit_chain, people):
    # given: a wallet paid by a coinbase and reconciled once
    source = segwit_chain.source
    operator = people["operator"]
    agency = agency_create(name="Checks", kind="other", actor=operator)
    key = WalletKey("checked cold")
    wallet = key_wallet(operator, agency, "checked-cold", key, birthday_height=tip(source) + 1)
    generate_to_address(source, 1, key.p2wpkh_address)
    first = wallet_reconcile(wallet=wallet, source=source)
    first_checked = ScanCursor.objects.get(wallet=wallet).checked_at
    assert first.status == "succeeded" and first.finished_at is not None and first_checked is not None
    assert first_checked >= first.finished_at

    def runs() -> list[int]:
        return list(ReconciliationRun.objects.filter(wallet=wallet).order_by("id").values_list("id", flat=True))

    # when: reconciled again with the chain unchanged
    again = wallet_reconcile(wallet=wallet, source=source)

    # then: no row, the last checked time moved, the run it repeats is returned
    assert again == first and runs() == [first.pk]
    later = ScanCursor.objects.get(wallet=wallet).checked_at
    assert later is not None and later > first_checked

    # when: at the same tip the books move (a posting nobody proposed): found, so a row
    equity = account_create(code="equity:checked-test", name="Checked test", account_type=AccountType.EQUITY)
    post_transaction(
        idempotency_key="checked-test",
        entries=[
            EntrySpec(account=wallet.ledger_account, amount_sats=1_000),
            EntrySpec(account=equity, amount_sats=-1_000),
        ],
        kind="test",
    )
    found = wallet_reconcile(wallet=wallet, source=source)
    assert (found.height, found.blocks_scanned) == (first.height, 0)
    assert (found.chain_balance_sats, found.ledger_balance_sats) == (first.chain_balance_sats, balance(wallet))
    assert balance(wallet) == (first.ledger_balance_sats or 0) + 1_000
    assert runs() == [first.pk, found.pk] and open_kinds(wallet) == ["amount_mismatch", "unrecorded_inflow"]

    # when: a block that pays someone else arrives, it was scanned: a row
    generate_to_address(source, 1, WalletKey("checked filler").p2wpkh_address)
    scanned = wallet_reconcile(wallet=wallet, source=source)
    assert (scanned.status, scanned.blocks_scanned, scanned.height) == ("succeeded", 1, tip(source))
    assert runs() == [first.pk, found.pk, scanned.pk]

    # when: the node is down, the failure keeps its row, and the next success after it is news too
    checked = ScanCursor.objects.get(wallet=wallet).checked_at
    with pytest.raises(NodeUnavailable):
        wallet_reconcile(wallet=wallet, source=RpcChainSource("http://127.0.0.1:1/", network="regtest", retries=0))
    failed = ReconciliationRun.objects.get(wallet=wallet, status=RunStatus.FAILED)
    assert "NodeUnavailable" in failed.error and ScanCursor.objects.get(wallet=wallet).checked_at == checked
    back = wallet_reconcile(wallet=wallet, source=source)
    assert runs() == [first.pk, found.pk, scanned.pk, failed.pk, back.pk] and back.blocks_scanned == 0

    # and the service's role cannot rewrite or remove a finished run (raw SQL as reserve_app)
    for sql, refusal in (
        ("UPDATE reserve_reconciliationrun SET chain_balance_sats = 0 WHERE id = %s", "kept as written"),
        ("UPDATE reserve_reconciliationrun SET status = 'running', finished_at = NULL WHERE id = %s", "kept"),
        ("DELETE FROM reserve_reconciliationrun WHERE id = %s", "permission denied"),
    ):
        with pytest.raises(DatabaseError, match=refusal), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [first.pk])
    first_row = ReconciliationRun.objects.get(pk=first.pk)
    assert (first_row.chain_balance_sats, first_row.status) == (first.chain_balance_sats, "succeeded")
