"""Proofs of reserves over the API: signatures by a key whose addresses a wallet holds verify and
make a statement; a signature over another challenge, an expired challenge or a wrong key is refused
with the reason; the statement re-verifies for auditors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from reserve.custody.addresses import parse_address
from reserve.proofs.models import ReserveProof, ReserveProofChallenge
from reserve.reconciliation.models import ChainBlock, WalletUtxo
from tests.reserve.api.conftest import BTC, SIGNING_KEY, Books, block_hash
from tests.reserve.api.keys import SigningKey

CHALLENGES = "/api/v1/reserve-proofs/challenges/"
PROOFS = "/api/v1/reserve-proofs/"


def utxo(books: Books, address: str, sats: int, height: int, label: str) -> WalletUtxo:
    return WalletUtxo.objects.create(
        wallet=books.signer,
        txid=f"{label:0>64}"[-64:],
        vout=0,
        value_sats=sats,
        script_pubkey=parse_address(address=address, network="regtest").script_pubkey,
        block=ChainBlock.objects.get(height=height),
        block_height=height,
    )


@pytest.fixture
def on_chain(books: Books) -> Books:
    """The chain shows the signer wallet's 3 BTC: 2 on its P2PKH address, 1 on its P2WPKH address."""
    utxo(books, SIGNING_KEY.p2pkh_address, 2 * BTC, 104, "a1")
    utxo(books, SIGNING_KEY.p2wpkh_address, BTC, 104, "b2")
    return books


def challenge(client: Any, *addresses: str, **extra: Any) -> dict[str, Any]:
    response = client.post(CHALLENGES, {"addresses": list(addresses)} | extra, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def both_signatures(message: str, key: SigningKey = SIGNING_KEY) -> list[dict[str, str]]:
    return [
        {"address": SIGNING_KEY.p2pkh_address, "signature": key.signmessage(message)},
        {"address": SIGNING_KEY.p2wpkh_address, "signature": key.bip322(message)},
    ]


@pytest.mark.django_db
def test_signatures_by_the_wallet_key_verify_into_a_statement(clients: dict[str, Any], on_chain: Books) -> None:
    # given
    issued = challenge(clients["operator"], SIGNING_KEY.p2pkh_address, SIGNING_KEY.p2wpkh_address)
    assert issued["nonce"] in issued["message"] and SIGNING_KEY.p2pkh_address in issued["message"]
    # when
    response = clients["operator"].post(
        PROOFS, {"challenge": issued["id"], "signatures": both_signatures(issued["message"])}, format="json"
    )
    # then
    assert response.status_code == 201, response.content
    proof = response.json()
    assert (proof["block_height"], proof["block_hash"]) == (104, block_hash(104))
    assert {row["address"]: (row["method"], row["balance_sats"]) for row in proof["addresses"]} == {
        SIGNING_KEY.p2pkh_address: ("signmessage", 2 * BTC),
        SIGNING_KEY.p2wpkh_address: ("bip322-simple", BTC),
    }
    assert proof["signed_total_sats"] == 3 * BTC
    assert proof["signed_total_btc"] == "3.00000000"
    wallets = {row["wallet"]: row for row in proof["wallets"]}
    assert wallets["signer-03"]["covered"] is True
    assert wallets["cold-01"]["covered"] is False
    assert proof["covers_perimeter"] is False
    assert proof["reverified"] is True


@pytest.mark.django_db
def test_auditors_reverify_a_stored_proof(clients: dict[str, Any], on_chain: Books) -> None:
    # given
    issued = challenge(clients["operator"], SIGNING_KEY.p2pkh_address)
    created = clients["operator"].post(
        PROOFS, {"challenge": issued["id"], "signatures": both_signatures(issued["message"])[:1]}, format="json"
    )
    assert created.status_code == 201, created.content
    # when
    detail = clients["auditor"].get(f"{PROOFS}{created.json()['id']}/").json()
    # then
    assert detail["reverified"] is True
    assert detail["signature_checks"] == [
        {"address": SIGNING_KEY.p2pkh_address, "method": "signmessage", "valid": True, "reason": ""}
    ]


@pytest.mark.django_db
def test_a_signature_over_another_challenge_is_refused(clients: dict[str, Any], on_chain: Books) -> None:
    # given: two challenges; the custodian signs the first and submits it to the second
    first = challenge(clients["operator"], SIGNING_KEY.p2pkh_address)
    second = challenge(clients["operator"], SIGNING_KEY.p2pkh_address)
    signature = SIGNING_KEY.signmessage(first["message"])
    # when
    response = clients["operator"].post(
        PROOFS,
        {"challenge": second["id"], "signatures": [{"address": SIGNING_KEY.p2pkh_address, "signature": signature}]},
        format="json",
    )
    # then
    assert response.status_code == 400
    reason = response.json()["error"]["fields"]["signatures[0].signature"][0]
    assert "was not made by the key" in reason and "another message" in reason
    assert not ReserveProof.objects.exists()


@pytest.mark.django_db
def test_bip322_over_another_challenge_is_refused(clients: dict[str, Any], on_chain: Books) -> None:
    # given
    first = challenge(clients["operator"], SIGNING_KEY.p2wpkh_address)
    second = challenge(clients["operator"], SIGNING_KEY.p2wpkh_address)
    signature = SIGNING_KEY.bip322(first["message"])
    # when
    response = clients["operator"].post(
        PROOFS,
        {"challenge": second["id"], "signatures": [{"address": SIGNING_KEY.p2wpkh_address, "signature": signature}]},
        format="json",
    )
    # then
    assert response.status_code == 400
    assert "another challenge" in response.json()["error"]["fields"]["signatures[0].signature"][0]


@pytest.mark.django_db
def test_an_expired_challenge_is_refused(clients: dict[str, Any], on_chain: Books) -> None:
    # given: the challenge's hour has passed
    issued = challenge(clients["operator"], SIGNING_KEY.p2pkh_address, ttl_seconds=60)
    ReserveProofChallenge.objects.filter(pk=issued["id"]).update(
        created_at=timezone.now() - timedelta(hours=2), expires_at=timezone.now() - timedelta(hours=1)
    )
    # when
    response = clients["operator"].post(
        PROOFS, {"challenge": issued["id"], "signatures": both_signatures(issued["message"])[:1]}, format="json"
    )
    # then
    assert response.status_code == 400
    assert "expired" in response.json()["error"]["fields"]["challenge"][0]


@pytest.mark.django_db
def test_a_wrong_key_is_refused(clients: dict[str, Any], on_chain: Books) -> None:
    # given
    issued = challenge(clients["operator"], SIGNING_KEY.p2pkh_address, SIGNING_KEY.p2wpkh_address)
    stranger = SigningKey("stranger")
    # when
    legacy = clients["operator"].post(
        PROOFS,
        {"challenge": issued["id"], "signatures": both_signatures(issued["message"], stranger)[:1]},
        format="json",
    )
    segwit = clients["operator"].post(
        PROOFS,
        {"challenge": issued["id"], "signatures": both_signatures(issued["message"], stranger)[1:]},
        format="json",
    )
    # then
    assert legacy.status_code == segwit.status_code == 400
    assert "was not made by the key" in legacy.json()["error"]["fields"]["signatures[0].signature"][0]
    assert "wrong key" in segwit.json()["error"]["fields"]["signatures[0].signature"][0]


@pytest.mark.django_db
def test_a_challenge_is_answered_once(clients: dict[str, Any], on_chain: Books) -> None:
    # given
    issued = challenge(clients["operator"], SIGNING_KEY.p2pkh_address)
    body = {"challenge": issued["id"], "signatures": both_signatures(issued["message"])[:1]}
    assert clients["operator"].post(PROOFS, body, format="json").status_code == 201
    # when
    again = clients["operator"].post(PROOFS, body, format="json")
    # then
    assert again.status_code == 409
    assert "challenge" in again.json()["error"]["fields"]


@pytest.mark.django_db
def test_addresses_outside_the_challenge_are_refused(clients: dict[str, Any], on_chain: Books) -> None:
    # given: a challenge for the P2PKH address only
    issued = challenge(clients["operator"], SIGNING_KEY.p2pkh_address)
    # when
    outside = clients["operator"].post(
        PROOFS, {"challenge": issued["id"], "signatures": both_signatures(issued["message"])[1:]}, format="json"
    )
    # then
    assert outside.status_code == 400
    assert "not one of this challenge's addresses" in outside.json()["error"]["fields"]["signatures[0].address"][0]
