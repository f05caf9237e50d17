"""Way 7 of issue 11 through the API: a WIF as a memo or wallet name, a tprv as a provenance
reference, a key in any free-text field a write takes, is a 400 naming the field that stores
nothing and does not echo the key; and the BIP-329 export never carries one."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from ledger.models import JournalTransaction
from policy.models import PolicyVersion
from reserve.audit.models import AuditEvent
from reserve.custody.models import Agency, Wallet
from reserve.reports.labels import WITHHELD
from reserve.transfers.models import Approval, Transfer
from tests.reserve.api.conftest import EXTERNAL, Books, Custody
from tests.secret_keys import HEX_SECRET, TPRV, WIF_MAINNET, WIFS


def post(client: Any, path: str, body: Any) -> Any:
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))


def counts() -> tuple[int, ...]:
    models = (Transfer, Wallet, Agency, Approval, PolicyVersion, JournalTransaction, AuditEvent)
    return tuple(model.objects.count() for model in models)


def refused(response: Any, field: str, secret: str) -> None:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert list(error["fields"]) == [field], error
    assert "private key" in error["fields"][field][0]
    assert secret not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "secret"),
    [
        ({"memo": f"cold storage key {WIF_MAINNET}"}, "memo", WIF_MAINNET),
        ({"memo": WIFS["testnet uncompressed"]}, "memo", WIFS["testnet uncompressed"]),
        ({"memo": f"secret {HEX_SECRET}"}, "memo", HEX_SECRET),
        ({"provenance_reference": TPRV}, "provenance_reference", TPRV),
        (
            {"provenance_reference": f"Order 7/{WIFS['testnet compressed']}"},
            "provenance_reference",
            WIFS["testnet compressed"],
        ),
    ],
)
def test_a_transfer_with_a_key_in_its_text_is_refused_naming_the_field(
    clients: dict[str, Any], custody: Custody, changes: dict[str, str], field: str, secret: str
) -> None:
    before = counts()
    body = {
        "direction": "outbound",
        "category": "return_to_victims",
        "amount_sats": 1_000_000,
        "source_wallet": custody.cold.pk,
        "external_address": EXTERNAL,
    } | changes
    refused(post(clients["operator"], "/api/v1/transfers/", body), field, secret)
    assert counts() == before


@pytest.mark.django_db
def test_a_wallet_or_agency_named_by_a_key_is_refused(clients: dict[str, Any], custody: Custody) -> None:
    before = counts()
    wallet = {"agency": custody.agency.pk, "kind": "hot", "network": "regtest", "addresses": [EXTERNAL]}
    refused(post(clients["operator"], "/api/v1/wallets/", wallet | {"name": WIF_MAINNET}), "name", WIF_MAINNET)
    refused(post(clients["operator"], "/api/v1/agencies/", {"name": f"Fund {TPRV}"}), "name", TPRV)
    descriptor = f"wpkh([73c5da0a/84h/1h/0h]{TPRV}/0/*)"
    response = post(clients["operator"], "/api/v1/wallets/", wallet | {"name": "hot-9", "descriptors": [descriptor]})
    assert response.status_code == 400 and "descriptors[0]" in response.json()["error"]["fields"]
    assert TPRV not in response.content.decode()
    assert counts() == before


@pytest.mark.django_db
def test_an_approval_comment_with_a_key_is_refused_and_approves_nothing(clients: dict[str, Any], books: Books) -> None:
    before = counts()
    response = post(
        clients["approver"], f"/api/v1/transfers/{books.pending.pk}/approve/", {"comment": f"ok {WIF_MAINNET}"}
    )
    refused(response, "comment", WIF_MAINNET)
    assert counts() == before


@pytest.mark.django_db
def test_the_bip329_export_never_carries_a_key(clients: dict[str, Any], books: Books) -> None:
    # given: a wallet name holding a key, stored before the guard existed (an UPDATE skips it)
    Wallet.objects.filter(pk=books.cold.pk).update(name=f"cold {WIF_MAINNET}")
    Transfer.objects.filter(pk=books.transfers[0].pk).update(provenance_reference=TPRV)
    # when
    response = clients["auditor"].get("/api/v1/labels/")
    # then
    text = response.content.decode()
    assert response.status_code == 200
    assert WIF_MAINNET not in text and TPRV not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert any(record["label"] == WITHHELD for record in records if record["type"] in ("xpub", "addr"))
    assert any(record["label"] == WITHHELD for record in records if record["type"] == "tx")
