"""The public transparency page (/transparency/, no login): published wallets with their addresses
and holdings, the history, the latest statement that names nothing unpublished; and nothing
unpublished leaks: no unpublished wallet or its addresses, no agency, counterparty or memo, in the
HTML or the JSON."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from reserve.custody.models import WatchedScript
from reserve.custody.services import counterparty_create
from reserve.proofs.models import ReserveProof
from reserve.reconciliation.models import ChainBlock, WalletUtxo
from reserve.transfers.services import transfer_create
from tests.reserve.api.conftest import BTC, SIGNING_KEY, Books

PAGE = "/transparency/"


def fund(wallet: Any, sats: int, height: int, label: str, spent_height: int | None = None) -> None:
    script = WatchedScript.objects.filter(wallet=wallet).order_by("pk").first()
    assert script is not None
    WalletUtxo.objects.create(
        wallet=wallet,
        txid=hashlib.sha256(label.encode()).hexdigest(),
        vout=0,
        value_sats=sats,
        script_pubkey=bytes(script.script_pubkey),
        block=ChainBlock.objects.get(height=height),
        block_height=height,
        spent_height=spent_height,
    )


@pytest.fixture
def published(books: Books, users: dict[str, Any], clients: dict[str, Any]) -> Books:
    """cold-01 and signer-03 published; vault-02 not. A counterparty and a memo exist in the books,
    and a proof whose statement names vault-02 (an in-perimeter wallet) was made."""
    for wallet in (books.cold, books.signer):
        wallet.published = True
        wallet.save(update_fields=["published"])
    fund(books.cold, 2 * BTC, 101, "cold-a", spent_height=104)
    fund(books.cold, 3 * BTC, 102, "cold-b")
    fund(books.signer, BTC, 104, "signer-a")
    fund(books.vault, 7 * BTC, 103, "vault-a")
    seller = counterparty_create(name="Seller Ltd", kind="other", actor=users["operator"])
    transfer_create(
        actor=users["operator"],
        direction="inbound",
        category="purchase",
        amount_sats=BTC,
        destination_wallet=books.vault,
        counterparty=seller,
        memo="secret memo about the seller",
        provenance_reference="Contract 99",
    )
    issued = clients["operator"].post(
        "/api/v1/reserve-proofs/challenges/", {"addresses": [SIGNING_KEY.p2pkh_address]}, format="json"
    )
    signature = SIGNING_KEY.signmessage(issued.json()["message"])
    made = clients["operator"].post(
        "/api/v1/reserve-proofs/",
        {
            "challenge": issued.json()["id"],
            "signatures": [{"address": SIGNING_KEY.p2pkh_address, "signature": signature}],
        },
        format="json",
    )
    assert made.status_code == 201, made.content
    return books


def unpublished_marks(books: Books) -> list[str]:
    vault_addresses = list(WatchedScript.objects.filter(wallet=books.vault).values_list("address", flat=True))
    return ["vault-02", *vault_addresses, "Treasury", "Seller Ltd", "secret memo", "Contract 99", "Order 7"]


@pytest.mark.django_db
def test_the_page_shows_published_wallets_without_login_and_leaks_nothing_unpublished(
    clients: dict[str, Any], published: Books
) -> None:
    # when: anyone, without a login
    html = clients["anonymous"].get(PAGE)
    data = clients["anonymous"].get(f"{PAGE}transparency.json")
    # then
    assert html.status_code == data.status_code == 200
    page, body = html.content.decode(), data.content.decode()
    assert "cold-01" in page and "signer-03" in page and SIGNING_KEY.p2pkh_address in page
    assert "<svg" in page and "<polyline" in page and "<script" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    json_data = data.json()
    assert {row["name"]: row["balance_sats"] for row in json_data["wallets"]} == {"cold-01": 3 * BTC, "signer-03": BTC}
    assert json_data["total_sats"] == 4 * BTC
    assert json_data["history"] == [
        {"height": 101, "total_sats": 2 * BTC},
        {"height": 102, "total_sats": 5 * BTC},
        {"height": 104, "total_sats": 4 * BTC},
    ]
    # the only statement names vault-02 (in the perimeter, unpublished): not offered
    assert json_data["statement"] is None
    for mark in unpublished_marks(published):
        assert mark not in page, mark
        assert mark not in body, mark


@pytest.mark.django_db
def test_with_every_wallet_of_a_statement_published_it_downloads(clients: dict[str, Any], published: Books) -> None:
    # given
    published.vault.published = True
    published.vault.save(update_fields=["published"])
    proof = ReserveProof.objects.get()
    # when
    data = clients["anonymous"].get(f"{PAGE}transparency.json").json()
    download = clients["anonymous"].get(f"{PAGE}statements/{proof.pk}.json")
    missing = clients["anonymous"].get(f"{PAGE}statements/{proof.pk + 1}.json")
    # then
    assert data["statement"]["id"] == proof.pk
    assert "scripts/verify_statement.py" in data["statement"]["verify_command"]
    assert download.status_code == 200
    assert "attachment" in download["Content-Disposition"]
    assert download.json() == {"statement": proof.statement, "signature": proof.statement_signature}
    assert missing.status_code == 404
