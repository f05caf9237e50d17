"""The period attestation over a regtest history (a purchase, a forfeiture, a consolidation and a
donation nobody proposed), booked by reconciliation: the verifier rescans the period with the
published descriptors and reproduces every figure; it fails when one of the perimeter's wallets is
left out of the published set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ledger.signing import signing_key
from reserve.chain.blocks import Outpoint
from reserve.custody.services import agency_create
from reserve.proofs.attestations import period_attestation
from reserve.proofs.statements import statement_sign
from reserve.reconciliation.services import wallet_reconcile
from reserve.transfers.services import transfer_approve, transfer_create, transfer_mark_broadcast, transfer_propose
from tests.regtest.fixtures import SegwitChain
from tests.regtest.keys import WalletKey
from tests.regtest.node import RegtestNode
from tests.reserve.reconciliation.conftest import FEE_SATS, Coin, Payer, key_wallet, mine, pay, txid_of
from tests.users import make_user

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

VERIFIER = Path(__file__).resolve().parents[3] / "scripts" / "verify_statement.py"


def approved(people: dict[str, Any], **fields: Any) -> Any:
    transfer = transfer_create(actor=people["operator"], **fields)
    transfer_propose(transfer=transfer, actor=people["operator"])
    transfer_approve(transfer=transfer, actor=people["approver"])
    return transfer_approve(transfer=transfer, actor=people["approver2"])


def run_verifier(path: Path, node: RegtestNode) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(VERIFIER), str(path), "--key", signing_key().public_hex, "--rpc", node.rpc_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_attestation_is_reproduced_by_a_rescan_and_fails_without_a_wallet(
    segwit_chain: SegwitChain, regtest_node: RegtestNode, tmp_path: Path
) -> None:
    # given: cold and hot in the perimeter, born at the next block
    source, payer = segwit_chain.source, Payer(segwit_chain, 100)
    people = {
        "operator": make_user("att-olga", "operator"),
        "approver": make_user("att-ana", "approver"),
        "approver2": make_user("att-bruno", "approver"),
    }
    agency = agency_create(name="Treasury", kind="ministry", actor=people["operator"])
    cold_key, hot_key = WalletKey("attest cold"), WalletKey("attest hot")
    birthday = source.block_count() + 1
    cold = key_wallet(people["operator"], agency, "attest-cold", cold_key, birthday_height=birthday)
    hot = key_wallet(people["operator"], agency, "attest-hot", hot_key, birthday_height=birthday, kind="hot")

    def block(*transactions: Any) -> None:
        mine(source, *transactions)
        wallet_reconcile(wallet=cold, source=source)
        wallet_reconcile(wallet=hot, source=source)

    # when: a purchase and a forfeiture land in cold, cold is consolidated into hot, and a donation
    # nobody proposed lands in hot
    for category, sats, reference in (("purchase", 4_000_000, "Contract 1"), ("forfeiture", 6_000_000, "Order 2")):
        approved(
            people, direction="inbound", category=category, amount_sats=sats, destination_wallet=cold,
            provenance_reference=reference,
        )  # fmt: skip
        paid = pay([payer.coin()], [(cold_key.p2wpkh_script, sats)], change=segwit_chain.miner_key)
        block(paid)
        if category == "purchase":
            purchase = paid
        else:
            forfeiture = paid
    consolidation = approved(
        people, direction="internal", category="internal_consolidation", amount_sats=10_000_000 - FEE_SATS,
        fee_sats=FEE_SATS, source_wallet=cold, destination_wallet=hot,
    )  # fmt: skip
    spend = pay(
        [
            Coin(Outpoint(txid_of(purchase), 0), 4_000_000, cold_key),
            Coin(Outpoint(txid_of(forfeiture), 0), 6_000_000, cold_key),
        ],
        [(hot_key.p2wpkh_script, 10_000_000 - FEE_SATS)],
    )
    transfer_mark_broadcast(transfer=consolidation, actor=people["operator"], txid=txid_of(spend))
    block(spend)
    block(pay([payer.coin()], [(hot_key.p2wpkh_script, 1_500_000)], change=segwit_chain.miner_key))
    document = period_attestation(from_height=birthday, to_height=source.block_count())
    path = tmp_path / "attestation.json"
    path.write_text(json.dumps(document))
    result = run_verifier(path, regtest_node)

    # then: every change classed, the verdict from the figures, and a rescan agrees
    statement = document["statement"]
    assert [move["class"] for change in statement["changes"] for move in change["transactions"]] == [
        "purchase",
        "forfeiture",
        "consolidation",
        "involuntary inflow",
    ]
    assert statement["end_holdings_sats"] == 11_500_000 - FEE_SATS
    assert (statement["net_accumulation_sats"], statement["verdict"]) == (4_000_000 - FEE_SATS, "net accumulation")
    assert "rests on the service's signed word" in statement["trust"]
    assert result.returncode == 0, result.stderr
    assert "4 changing blocks reproduced" in result.stdout

    # when: the service leaves hot out of the published set (and signs that)
    statement["wallets"] = [wallet for wallet in statement["wallets"] if wallet["wallet"] != "attest-hot"]
    document["signature"] = statement_sign(statement)
    path.write_text(json.dumps(document))
    hidden = run_verifier(path, regtest_node)
    # then
    assert hidden.returncode == 1
    assert "the rescan finds" in hidden.stderr, hidden.stderr
