"""The standalone verifier (scripts/verify_statement.py) against a live regtest node.

Statements: the signed holdings statement (a 2-of-3 vault proven by a BIP-127 PSBT its cosigners
signed with embit, a treasury's P2TR and P2SH-P2WPKH addresses by BIP-322), checked as an auditor
would: an honest statement passes; an amount
edited, an output that does not exist, a header whose proof of work is wrong, or a statement
re-signed by another key each fail with the reason.

Attestations: over a history with a purchase, a forfeiture, a consolidation and a donation nobody
proposed, booked by reconciliation, the verifier rescans the period with the published descriptors
and reproduces every figure; it fails when a perimeter wallet is left out of the published set."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse
from embit.hashes import double_sha256
from embit.script import address_to_scriptpubkey

from ledger.signing import signing_key
from reserve.chain.blocks import Outpoint
from reserve.chain.rpc import RpcChainSource
from reserve.custody.models import Wallet
from reserve.custody.services import agency_create, wallet_register
from reserve.proofs.attestations import period_attestation
from reserve.proofs.models import ReserveProof
from reserve.proofs.selectors import wallet_proof_psbt
from reserve.proofs.services import reserve_proof_challenge_issue, reserve_proof_submit
from reserve.proofs.statements import statement_bytes, statement_document, statement_sign
from reserve.reconciliation.follower import wallet_scan
from reserve.reconciliation.services import wallet_reconcile
from reserve.transfers.services import transfer_approve, transfer_create, transfer_mark_broadcast, transfer_propose
from tests.regtest.blocks import mine_block, spend_p2wpkh
from tests.regtest.fixtures import SegwitChain
from tests.regtest.keys import WalletKey
from tests.regtest.node import RegtestNode
from tests.reserve.proofs.signers import Multisig, SingleKey
from tests.reserve.reconciliation.conftest import FEE_SATS, Coin, Payer, key_wallet, mine, pay, txid_of
from tests.users import make_user

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

VERIFIER = Path(__file__).resolve().parents[3] / "scripts" / "verify_statement.py"
VAULT = Multisig(("cosigner-a", "cosigner-b", "cosigner-c"), quorum=2)
TREASURY = SingleKey("treasury")


def script_of(address: str) -> bytes:
    return bytes(address_to_scriptpubkey(address).data)


@pytest.fixture(scope="module")
def funded(segwit_chain: SegwitChain) -> dict[str, Any]:
    """One block paying the vault (2-of-3 P2WSH) twice, the treasury's P2TR and P2SH-P2WPKH once each."""
    source, miner = segwit_chain.source, segwit_chain.miner_key
    birthday = source.block_count() + 1
    payments = []
    for coinbase_height, outputs in (
        (1, [(VAULT.address, 3_000_000), (TREASURY.address("p2tr"), 2_000_000)]),
        (2, [(VAULT.address, 1_000_000), (TREASURY.address("p2sh"), 500_000)]),
    ):
        outpoint, value = segwit_chain.coinbase_output(coinbase_height)
        rest = value - sum(sats for _, sats in outputs) - FEE_SATS
        scripts = [(script_of(address), sats) for address, sats in outputs] + [(miner.p2wpkh_script, rest)]
        payments.append(spend_p2wpkh(miner, [(outpoint, value)], scripts))
    mine_block(source, payout_script=WalletKey("proof filler").p2wpkh_script, transactions=payments)
    mine_block(source, payout_script=WalletKey("proof filler").p2wpkh_script)
    return {"birthday": birthday, "source": source}


@pytest.fixture
def statement_file(funded: dict[str, Any], tmp_path: Path) -> Path:
    """The wallets scanned, a challenge answered by every signer, the statement exported with its evidence."""
    source = funded["source"]
    operator = make_user("proof-operator", "operator")
    agency = agency_create(name="Treasury", kind="ministry", actor=operator)
    addresses = {"vault": [VAULT.address], "treasury": [TREASURY.address("p2tr"), TREASURY.address("p2sh")]}
    for name, watched in addresses.items():
        wallet = wallet_register(
            name=name,
            agency=agency,
            kind="cold",
            network="regtest",
            birthday_height=funded["birthday"],
            addresses=watched,
            actor=operator,
        )
        wallet_scan(wallet=wallet, source=source)
    challenge = reserve_proof_challenge_issue(
        addresses=[a for group in addresses.values() for a in group], actor=operator
    )
    message = challenge.message
    vault_psbt = wallet_proof_psbt(challenge=challenge, wallet=Wallet.objects.get(name="vault"))
    proof = reserve_proof_submit(
        challenge=challenge,
        signatures=[
            {"address": TREASURY.address("p2tr"), "signature": TREASURY.simple("p2tr", message)},
            {"address": TREASURY.address("p2sh"), "signature": TREASURY.full("p2sh", message)},
        ],
        wallet_proofs=[{"wallet": "vault", "psbt": VAULT.sign_psbt(vault_psbt, ["cosigner-b", "cosigner-c"])}],
        actor=operator,
        source=lambda: source,
    )
    assert [row["method"] for row in proof.addresses] == ["bip322-simple", "bip322-full", "bip127"]
    assert proof.signed_total_sats == 6_500_000
    assert proof.statement is not None and proof.statement["evidence"] == {"bundled": True}
    path = tmp_path / "statement.json"
    path.write_text(json.dumps(statement_document(proof=proof)))
    return path


def test_the_statement_downloaded_from_the_public_page_verifies_with_no_node(
    statement_file: Path, client: Client, tmp_path: Path
) -> None:
    # given: both wallets published, the page names the statement and a command without --rpc
    Wallet.objects.update(published=True)
    page = client.get(reverse("transparency-json")).json()
    assert "--rpc" not in page["statement"]["verify_command"]
    # when: downloaded and checked as a subprocess, with no node named
    download = client.get(reverse("transparency-statement", args=[page["statement"]["id"]]))
    path = tmp_path / "downloaded.json"
    path.write_bytes(download.content)
    honest = run_verifier(path, signing_key().public_hex)
    stranger = Ed25519PrivateKey.generate()
    edit(path, lambda document: _amount_edited(document, stranger))
    edited = run_verifier(path, stranger.public_key().public_bytes_raw().hex())
    # then
    assert honest.returncode == 0, honest.stderr
    assert "OK: 6500000 sats in 4 outputs of 3 addresses" in honest.stdout
    assert edited.returncode == 1 and "does not pay" in edited.stderr, edited.stderr


def test_when_the_node_is_unreachable_the_statement_says_so_and_rpc_still_verifies(
    funded: dict[str, Any], regtest_node: RegtestNode, tmp_path: Path
) -> None:
    # given: the treasury's P2TR address proven while the chain source refuses connections
    operator = make_user("proof-operator", "operator")
    agency = agency_create(name="Treasury", kind="ministry", actor=operator)
    wallet = wallet_register(
        name="treasury", agency=agency, kind="cold", network="regtest", birthday_height=funded["birthday"],
        addresses=[TREASURY.address("p2tr")], actor=operator,
    )  # fmt: skip
    wallet_scan(wallet=wallet, source=funded["source"])
    challenge = reserve_proof_challenge_issue(addresses=[TREASURY.address("p2tr")], actor=operator)
    signature = {"address": TREASURY.address("p2tr"), "signature": TREASURY.simple("p2tr", challenge.message)}
    # when
    unreachable = RpcChainSource("http://127.0.0.1:1/", retries=0)
    proof = reserve_proof_submit(
        challenge=challenge, signatures=[signature], actor=operator, source=lambda: unreachable
    )
    path = tmp_path / "statement.json"
    path.write_text(json.dumps(statement_document(proof=proof)))
    alone = run_verifier(path, signing_key().public_hex)
    fetched = run_verifier(path, signing_key().public_hex, "--rpc", regtest_node.rpc_url)
    # then: the signed statement says why nothing is bundled; the verifier fetches it from a node
    assert proof.evidence is None and proof.statement is not None
    assert proof.statement["evidence"]["bundled"] is False
    assert "did not answer" in proof.statement["evidence"]["reason"]
    assert alone.returncode == 1 and "did not answer" in alone.stderr, alone.stderr
    assert fetched.returncode == 0 and "OK: 2000000 sats in 1 outputs" in fetched.stdout, fetched.stderr


def test_the_service_role_cannot_add_evidence_a_statement_does_not_vouch_for(statement_file: Path) -> None:
    # given: a statement that says its evidence is not bundled (as when the node was unreachable)
    proof = ReserveProof.objects.get()
    # when / then: storing evidence beside it, as the service's role, is refused by the database
    with (
        pytest.raises(IntegrityError, match="reserve_proof_evidence_bundled"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE reserve_reserveproof SET statement = jsonb_set(statement::jsonb, '{evidence,bundled}', "
            "'false') WHERE id = %s",
            [proof.pk],
        )


def run_verifier(path: Path, key: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(VERIFIER), str(path), "--key", key, *options],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def test_an_honest_statement_passes(statement_file: Path) -> None:
    # when
    result = run_verifier(statement_file, key=signing_key().public_hex)
    # then
    assert result.returncode == 0, result.stderr
    assert "OK: 6500000 sats in 4 outputs of 3 addresses" in result.stdout
    assert ReserveProof.objects.count() == 1


def test_without_bundled_evidence_the_verifier_fetches_it_from_a_node(
    statement_file: Path, regtest_node: RegtestNode
) -> None:
    # given: the statement as the public page serves it (no evidence)
    edit(statement_file, lambda document: document.pop("evidence"))
    # when
    alone = run_verifier(statement_file, signing_key().public_hex)
    fetched = run_verifier(statement_file, signing_key().public_hex, "--rpc", regtest_node.rpc_url)
    # then
    assert alone.returncode == 1 and "give --rpc" in alone.stderr
    assert fetched.returncode == 0, fetched.stderr
    assert "OK: 6500000 sats in 4 outputs" in fetched.stdout


def _re_signed(document: dict[str, Any], key: Ed25519PrivateKey) -> None:
    document["signature"] = key.sign(statement_bytes(document["statement"])).hex()


def _amount_edited(document: dict[str, Any], stranger: Ed25519PrivateKey) -> None:
    row = document["statement"]["addresses"][0]
    row["utxos"][0]["value_sats"] += 1
    row["balance_sats"] += 1
    _re_signed(document, stranger)


def _fake_output(document: dict[str, Any], stranger: Ed25519PrivateKey) -> None:
    row = document["statement"]["addresses"][1]
    height = row["utxos"][0]["block_height"]
    row["utxos"].append({"txid": "ab" * 32, "vout": 0, "value_sats": 10**8, "block_height": height})
    row["balance_sats"] += 10**8
    _re_signed(document, stranger)


def _bad_pow(document: dict[str, Any], stranger: Ed25519PrivateKey) -> None:
    headers = document["evidence"]["headers"]
    header = bytearray(bytes.fromhex(headers[0]))
    # the regtest target admits about half of all hashes: try nonces until one misses it
    for nonce in range(1000):
        header[76:80] = nonce.to_bytes(4, "little")
        if int(double_sha256(bytes(header))[::-1].hex(), 16) > 0x7FFFFF << 232:
            break
    headers[0] = bytes(header).hex()


@pytest.mark.parametrize(
    ("tamper", "pin_stranger", "reason"),
    [
        (_amount_edited, True, "does not pay"),
        (_fake_output, True, "no transaction or merkle branch is bundled"),
        (_bad_pow, False, "fails its proof of work"),
        (_re_signed, False, "not signed by the pinned service key"),
    ],
    ids=["amount-edited", "fake-utxo", "bad-pow-header", "re-signed-by-another-key"],
)
def test_a_tampered_statement_fails_with_its_reason(
    statement_file: Path,
    tamper: Callable[[dict[str, Any], Ed25519PrivateKey], None],
    pin_stranger: bool,
    reason: str,
) -> None:
    # given: the file edited; for an edited statement the forger re-signs it and the auditor pins the
    # forger's key, so that only the chain evidence can catch the edit
    stranger = Ed25519PrivateKey.generate()
    edit(statement_file, lambda document: tamper(document, stranger))
    pinned = stranger.public_key().public_bytes_raw().hex() if pin_stranger else signing_key().public_hex
    # when
    result = run_verifier(statement_file, key=pinned)
    # then
    assert result.returncode == 1
    assert reason in result.stderr, result.stderr


def approved(people: dict[str, Any], **fields: Any) -> Any:
    transfer = transfer_create(actor=people["operator"], **fields)
    transfer_propose(transfer=transfer, actor=people["operator"])
    transfer_approve(transfer=transfer, actor=people["approver"])
    return transfer_approve(transfer=transfer, actor=people["approver2"])


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
    result = run_verifier(path, signing_key().public_hex, "--rpc", regtest_node.rpc_url)

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
    hidden = run_verifier(path, signing_key().public_hex, "--rpc", regtest_node.rpc_url)
    # then
    assert hidden.returncode == 1
    assert "the rescan finds" in hidden.stderr, hidden.stderr
