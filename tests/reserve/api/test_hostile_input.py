"""Input crafted to reach a 500: JSON nested thousands of levels deep (also on the unauthenticated
token endpoint), amounts and fees that fit the supply alone but not together, a witness v1
address with a bech32 checksum, BTC amounts such as 1E+999999 or in other scripts' digits. Each
is a 4xx naming what is wrong, and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest

from config.errors import ValidationFailed
from ledger.amounts import MAX_SATS
from reserve.common.amounts import btc_to_sats
from reserve.custody.addresses import parse_address
from reserve.transfers.models import Transfer
from tests.reserve.api.conftest import Custody
from tests.reserve.api.test_bad_input import post, transfer

pytestmark = pytest.mark.django_db
# BIP-350's invalid vector: witness v1 with a bech32 (not bech32m) checksum.
V1_WITH_BECH32 = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd"


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@pytest.mark.parametrize("levels", [33, 5_000, 200_000])
def test_deeply_nested_json_is_a_400_on_the_token_endpoint(clients: dict[str, Any], levels: int) -> None:
    response = clients["anonymous"].post("/api/v1/auth/token/", _deep(levels), content_type="application/json")
    assert response.status_code == 400
    assert "nests deeper" in response.json()["error"]["message"] or response.json()["error"]["fields"]


@pytest.mark.parametrize("levels", [40, 100_000])
def test_deeply_nested_json_is_a_400_on_a_write_and_stores_nothing(
    clients: dict[str, Any], custody: Custody, levels: int
) -> None:
    body = transfer(custody) | {"memo": "x"}
    raw = b'{"memo": ' + _deep(levels) + b', "amount_sats": 1}'
    before = Transfer.objects.count()
    response = clients["operator"].post(
        "/api/v1/transfers/", raw, content_type="application/json", HTTP_IDEMPOTENCY_KEY="deep"
    )
    assert response.status_code == 400, response.content
    assert Transfer.objects.count() == before
    # the API still answers in its error shape (the fixture's wallet holds nothing to send)
    still = post(clients["operator"], "/api/v1/transfers/", body)
    assert (still.status_code, still.json()["error"]["code"]) == (409, "insufficient_funds")


def test_amount_and_fee_over_the_supply_together_name_the_fee(clients: dict[str, Any], custody: Custody) -> None:
    before = Transfer.objects.count()
    response = post(
        clients["operator"],
        "/api/v1/transfers/",
        transfer(custody, amount_sats=MAX_SATS, fee_sats=1),
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["fee_sats"]
    assert Transfer.objects.count() == before


def test_a_witness_v1_address_with_a_bech32_checksum_is_refused() -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_address(address=V1_WITH_BECH32, network="mainnet", field="external_address")
    assert list(refused.value.fields) == ["external_address"]
    assert "bech32m" in refused.value.message


@pytest.mark.parametrize("text", ["1E+999999", "1e400", "\u0661", "\u00b2", "0.\u0665", "NaN", "Infinity", "-0.1"])
def test_crafted_btc_amounts_are_refused_naming_the_field(text: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        btc_to_sats(value=text, field="amount_btc")
    assert list(refused.value.fields) == ["amount_btc"]


def test_ordinary_btc_amounts_still_parse() -> None:
    assert [btc_to_sats(value=v, field="amount_btc") for v in ("0.1", "1e-8", "21000000", " 2.5 ")] == [
        10_000_000,
        1,
        MAX_SATS,
        250_000_000,
    ]


def test_the_database_refuses_amount_and_fee_over_the_supply_by_itself(custody: Custody, users: dict[str, Any]) -> None:
    from django.db import IntegrityError, transaction

    # given a write that skips the services, as raw access would
    with pytest.raises(IntegrityError, match="reserve_transfer_total_range"), transaction.atomic():
        Transfer.objects.create(
            direction="outbound",
            category="return_to_victims",
            amount_sats=MAX_SATS,
            fee_sats=1,
            source_wallet=custody.cold,
            external_address="bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
            proposer=users["operator"],
        )
    assert not Transfer.objects.filter(amount_sats=MAX_SATS).exists()
