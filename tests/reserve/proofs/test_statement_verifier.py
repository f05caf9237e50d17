"""The signed holdings statement against a live regtest node (a 2-of-3 vault proven by a BIP-127
PSBT its cosigners signed with embit, a treasury's P2TR and P2SH-P2WPKH addresses by BIP-322),
checked by the standalone verifier
(scripts/verify_statement.py, run as an auditor would): an honest statement passes; an amount
edited, an output that does not exist, a header whose proof of work is wrong, or a statement
re-signed by another key each fail with the reason."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from embit.hashes import double_sha256
from embit.script import address_to_scriptpubkey

from ledger.signing import signing_key
from reserve.custody.models import Wallet
from reserve.custody.services import agency_create, wallet_register
from reserve.proofs.models import ReserveProof
from reserve.proofs.selectors import wallet_proof_psbt
from reserve.proofs.services import reserve_proof_challenge_issue, reserve_proof_submit
from reserve.proofs.statements import statement_bytes, statement_document
from reserve.reconciliation.follower import wallet_scan
from tests.regtest.blocks import mine_block, spend_p2wpkh
from tests.regtest.fixtures import SegwitChain
from tests.regtest.keys import WalletKey
from tests.regtest.node import RegtestNode
from tests.reserve.proofs.signers import Multisig, SingleKey
from tests.users import make_user

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

VERIFIER = Path(__file__).resolve().parents[3] / "scripts" / "verify_statement.py"
VAULT = Multisig(("cosigner-a", "cosigner-b", "cosigner-c"), quorum=2)
TREASURY = SingleKey("treasury")
FEE_SATS = 1_000


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
    )
    assert [row["method"] for row in proof.addresses] == ["bip322-simple", "bip322-full", "bip127"]
    assert proof.signed_total_sats == 6_500_000
    path = tmp_path / "statement.json"
    path.write_text(json.dumps(statement_document(proof=proof, source=source)))
    return path


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
