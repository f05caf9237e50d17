"""Proofs of reserves for every wallet type a reserve uses (P2WSH multisig, P2SH-P2WPKH, P2TR key
path, by BIP-322 Full signatures made with embit), stated at the block the server names: one
cosigner short, a wrong key, another challenge's message, another block, an expired challenge or a
reorged block is refused with its reason; an output spent at the stated block is not counted. A
BIP-127 whole-wallet PSBT signed by the quorum proves the vault; one short, one spending an output
already spent at the block, or one committing to another challenge is refused."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from embit.psbt import PSBT

from ledger.signing import signature_valid, signing_key
from reserve.custody.addresses import parse_address
from reserve.custody.models import Wallet
from reserve.custody.services import wallet_register
from reserve.proofs.bip127 import Output, proof_psbt
from reserve.proofs.models import ReserveProof, ReserveProofChallenge
from reserve.proofs.statements import statement_bytes
from reserve.reconciliation.models import BlockStatus, ChainBlock, WalletUtxo
from tests.reserve.api.conftest import BTC, Books, block_hash, record_block
from tests.reserve.proofs.signers import Multisig, SingleKey

CHALLENGES = "/api/v1/reserve-proofs/challenges/"
PROOFS = "/api/v1/reserve-proofs/"
VAULT = Multisig(("cosigner-a", "cosigner-b", "cosigner-c"), quorum=2)
TREASURY = SingleKey("treasury")


def fund(wallet: Wallet, address: str, sats: int, height: int, label: str, spent_height: int | None = None) -> None:
    WalletUtxo.objects.create(
        wallet=wallet,
        txid=hashlib.sha256(label.encode()).hexdigest(),
        vout=0,
        value_sats=sats,
        script_pubkey=parse_address(address=address, network="regtest").script_pubkey,
        block=ChainBlock.objects.get(height=height),
        block_height=height,
        spent_height=spent_height,
    )


@pytest.fixture
def wallets(books: Books, users: dict[str, Any]) -> dict[str, str]:
    """A 2-of-3 P2WSH vault with 4 BTC (and 1 BTC spent at block 104), a P2SH-P2WPKH and a P2TR address."""
    addresses = {
        "p2wsh": VAULT.address,
        "p2sh": TREASURY.address("p2sh"),
        "p2tr": TREASURY.address("p2tr"),
    }
    for kind, address in addresses.items():
        wallet = wallet_register(
            name=f"{kind}-wallet",
            agency=books.agency,
            kind="cold",
            network="regtest",
            addresses=[address],
            actor=users["operator"],
        )
        fund(wallet, address, 4 * BTC, 103, f"{kind}1")
        fund(wallet, address, BTC, 102, f"{kind}2", spent_height=104)
    return addresses


def issue(client: Any, *addresses: str) -> dict[str, Any]:
    response = client.post(CHALLENGES, {"addresses": list(addresses)}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def submit(client: Any, issued: dict[str, Any], signatures: dict[str, str], **extra: Any) -> Any:
    body = {
        "challenge": issued["id"],
        "signatures": [{"address": address, "signature": signature} for address, signature in signatures.items()],
    }
    return client.post(PROOFS, body | extra, format="json")


def refusal(response: Any, field: str) -> str:
    assert response.status_code == 400, response.content
    return str(response.json()["error"]["fields"][field][0])


@pytest.mark.django_db
def test_every_wallet_type_proves_control_at_the_named_block(clients: dict[str, Any], wallets: dict[str, str]) -> None:
    # given: the challenge names the tip of the verified chain, and its message commits to the hash
    issued = issue(clients["operator"], *wallets.values())
    assert (issued["block_height"], issued["block_hash"]) == (104, block_hash(104))
    assert f"block: 104 {block_hash(104)}" in issued["message"]
    message = issued["message"]
    # when
    response = submit(
        clients["operator"],
        issued,
        {
            wallets["p2wsh"]: VAULT.full(message),
            wallets["p2sh"]: TREASURY.full("p2sh", message),
            wallets["p2tr"]: TREASURY.full("p2tr", message),
        },
    )
    # then: each type verifies; the output spent at block 104 is not counted
    assert response.status_code == 201, response.content
    proof = response.json()
    assert {row["address"]: (row["method"], row["balance_sats"]) for row in proof["addresses"]} == dict.fromkeys(
        wallets.values(), ("bip322-full", 4 * BTC)
    )
    assert proof["reverified"] is True
    stored = ReserveProof.objects.get(pk=proof["id"])
    statement = stored.statement
    assert statement is not None
    assert statement["block"] == {"height": 104, "hash": block_hash(104)}
    assert [len(row["utxos"]) for row in statement["addresses"]] == [1, 1, 1]
    assert signature_valid(
        signing_key().public_bytes, statement_bytes(statement), bytes.fromhex(stored.statement_signature)
    )
    # and once a block more is verified, a new challenge names it
    record_block(105)
    assert (issue(clients["operator"], wallets["p2wsh"])["block_height"]) == 105


@pytest.mark.django_db
def test_the_quorum_signs_in_any_pair_but_one_cosigner_short_or_a_stranger_is_refused(
    clients: dict[str, Any], wallets: dict[str, str]
) -> None:
    # given
    issued = issue(clients["operator"], wallets["p2wsh"])
    message = issued["message"]
    field = "signatures[0].signature"
    # when
    short = submit(clients["operator"], issued, {wallets["p2wsh"]: VAULT.full(message, ["cosigner-a"])})
    stranger = submit(clients["operator"], issued, {wallets["p2wsh"]: VAULT.full(message, ["cosigner-a", "x"])})
    other_pair = submit(
        clients["operator"], issued, {wallets["p2wsh"]: VAULT.full(message, ["cosigner-a", "cosigner-c"])}
    )
    # then
    assert "needs 2 signatures of its 3 cosigners, got 1" in refusal(short, field)
    assert "by none of the remaining cosigners' keys" in refusal(stranger, field)
    assert other_pair.status_code == 201, other_pair.content


@pytest.mark.django_db
def test_a_wrong_key_or_another_challenge_s_message_is_refused_for_each_type(
    clients: dict[str, Any], wallets: dict[str, str]
) -> None:
    # given
    first = issue(clients["operator"], *wallets.values())
    second = issue(clients["operator"], *wallets.values())
    stranger = SingleKey("stranger")
    field = "signatures[0].signature"
    # when
    p2sh_wrong = submit(
        clients["operator"],
        second,
        {wallets["p2sh"]: stranger.full("p2sh", second["message"], claimed=wallets["p2sh"])},
    )
    p2tr_wrong = submit(
        clients["operator"],
        second,
        {wallets["p2tr"]: stranger.full("p2tr", second["message"], claimed=wallets["p2tr"])},
    )
    replayed = {
        kind: submit(clients["operator"], second, {wallets[kind]: signature})
        for kind, signature in {
            "p2wsh": VAULT.full(first["message"]),
            "p2sh": TREASURY.full("p2sh", first["message"]),
            "p2tr": TREASURY.full("p2tr", first["message"]),
        }.items()
    }
    # then
    assert "wrong key" in refusal(p2sh_wrong, field)
    assert "does not verify" in refusal(p2tr_wrong, field)
    for response in replayed.values():
        assert "another challenge" in refusal(response, field)
    assert not ReserveProof.objects.exists()


@pytest.mark.django_db
def test_a_proof_at_another_block_an_expired_challenge_or_a_reorged_block_is_refused(
    clients: dict[str, Any], wallets: dict[str, str]
) -> None:
    # given
    issued = issue(clients["operator"], wallets["p2tr"])
    signature = {wallets["p2tr"]: TREASURY.full("p2tr", issued["message"])}
    expired = issue(clients["operator"], wallets["p2tr"])
    ReserveProofChallenge.objects.filter(pk=expired["id"]).update(
        created_at=timezone.now() - timedelta(hours=2), expires_at=timezone.now() - timedelta(hours=1)
    )
    # when
    older = submit(clients["operator"], issued, signature, height=103)
    too_late = submit(clients["operator"], expired, {wallets["p2tr"]: TREASURY.full("p2tr", expired["message"])})
    ChainBlock.objects.filter(height=104).update(status=BlockStatus.REORGED, reorged_at=timezone.now())
    reorged = submit(clients["operator"], issued, signature)
    # then
    assert "answered at block 104" in refusal(older, "height")
    assert "expired" in refusal(too_late, "challenge")
    assert "no longer on the best chain" in refusal(reorged, "challenge")
    assert not ReserveProof.objects.exists()


def cosigners_sign(psbt_text: str, signers: tuple[str, ...] = ("cosigner-a", "cosigner-c")) -> str:
    return VAULT.sign_psbt(psbt_text, signers)


def vault_outputs(spent_too: bool = False) -> list[Output]:
    address = parse_address(address=VAULT.address, network="regtest")
    rows = WalletUtxo.objects.filter(script_pubkey=address.script_pubkey)
    if not spent_too:
        rows = rows.filter(spent_height__isnull=True)
    return [Output(row.txid, row.vout, row.value_sats, address) for row in rows.order_by("txid")]


@pytest.mark.django_db
def test_a_whole_wallet_bip127_proof_signed_by_the_quorum_proves_the_vault(
    clients: dict[str, Any], wallets: dict[str, str]
) -> None:
    # given: the PSBT the service hands the cosigners for the vault at the challenge's block
    issued = issue(clients["operator"], wallets["p2wsh"])
    unsigned = clients["operator"].get(f"{CHALLENGES}{issued['id']}/psbt/", {"wallet": "p2wsh-wallet"})
    assert unsigned.status_code == 200, unsigned.content
    # when
    response = clients["operator"].post(
        PROOFS,
        {
            "challenge": issued["id"],
            "wallet_proofs": [{"wallet": "p2wsh-wallet", "psbt": cosigners_sign(unsigned.json()["psbt"])}],
        },
        format="json",
    )
    # then: one input for the unspent output (the one spent at block 104 is not offered)
    assert response.status_code == 201, response.content
    proof = response.json()
    assert [(row["address"], row["method"], row["balance_sats"]) for row in proof["addresses"]] == [
        (wallets["p2wsh"], "bip127", 4 * BTC)
    ]
    assert proof["reverified"] is True
    assert len(PSBT.from_string(unsigned.json()["psbt"]).inputs) == 2


@pytest.mark.django_db
def test_a_bip127_proof_short_a_cosigner_spending_a_spent_output_or_for_another_challenge_is_refused(
    clients: dict[str, Any], wallets: dict[str, str]
) -> None:
    # given
    first = issue(clients["operator"], wallets["p2wsh"])
    second = issue(clients["operator"], wallets["p2wsh"])
    honest = proof_psbt(message=second["message"], outputs=vault_outputs())
    with_spent = proof_psbt(message=second["message"], outputs=vault_outputs(spent_too=True))
    other = proof_psbt(message=first["message"], outputs=vault_outputs())

    def submit_psbt(psbt: str) -> Any:
        body = {"challenge": second["id"], "wallet_proofs": [{"wallet": "p2wsh-wallet", "psbt": psbt}]}
        return clients["operator"].post(PROOFS, body, format="json")

    field = "wallet_proofs[0].psbt"
    # when
    short = submit_psbt(cosigners_sign(honest, ("cosigner-b",)))
    spent = submit_psbt(cosigners_sign(with_spent))
    replayed = submit_psbt(cosigners_sign(other))
    garbage = submit_psbt("not a psbt")
    # then
    assert "needs 2 signatures of its 3 cosigners, got 1" in refusal(short, field)
    assert "not an output of ours unspent at the stated block" in refusal(spent, field)
    assert "another challenge" in refusal(replayed, field)
    assert "is not a base64 PSBT" in refusal(garbage, field)
    assert not ReserveProof.objects.exists()


def raw(sql: str, *params: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))


# transaction: the constraints are checked by PostgreSQL itself; serialized_rollback keeps the role groups.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_service_role_cannot_store_an_unsigned_statement_or_a_malformed_challenge_block(
    clients: dict[str, Any], wallets: dict[str, str]
) -> None:
    # given: a proof made through the API
    issued = issue(clients["operator"], wallets["p2tr"])
    made = submit(clients["operator"], issued, {wallets["p2tr"]: TREASURY.full("p2tr", issued["message"])})
    assert made.status_code == 201, made.content
    proof_id = made.json()["id"]
    # when / then: raw SQL as reserve_app (the tests' connection) drops the signature, or names no block
    with pytest.raises(IntegrityError, match="reserve_proof_statement_signed"), transaction.atomic():
        raw("UPDATE reserve_reserveproof SET statement_signature = '' WHERE id = %s", proof_id)
    with pytest.raises(IntegrityError, match="reserve_challenge_block"), transaction.atomic():
        raw("UPDATE reserve_reserveproofchallenge SET block_hash = 'not a hash' WHERE id = %s", issued["id"])
    # and an edited statement keeps its old signature, which no longer verifies
    raw(
        "UPDATE reserve_reserveproof SET statement = jsonb_set(statement, '{totals,proven_sats}', '1') WHERE id = %s",
        proof_id,
    )
    stored = ReserveProof.objects.get(pk=made.json()["id"])
    assert stored.statement is not None
    assert not signature_valid(
        signing_key().public_bytes, statement_bytes(stored.statement), bytes.fromhex(stored.statement_signature)
    )
