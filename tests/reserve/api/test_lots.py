"""GET /api/v1/lots/ (holdings by lot, JSON and CSV) and the lots a proposal names over REST."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from reserve.compliance.models import Lot
from tests.reserve.api.conftest import BTC, EXTERNAL, Books, block_time


@pytest.mark.django_db
def test_the_lots_still_held_add_up_to_each_wallets_balance_and_keep_their_provenance(
    clients: dict[str, Any], books: Books
) -> None:
    held = clients["auditor"].get("/api/v1/lots/", {"wallet": books.vault.pk, "open": "true"}).json()["results"]

    # the vault bought 2 BTC, and received 1 BTC of the cold wallet's forfeiture (its date and order kept)
    assert [(lot["category"], lot["provenance_reference"], lot["left_sats"]) for lot in held] == [
        ("forfeiture", "Order 7", BTC),
        ("purchase", "Contract 12", 2 * BTC),
    ]
    assert held[0]["acquired_at"] == block_time(101).isoformat().replace("+00:00", "Z")
    cold = clients["auditor"].get("/api/v1/lots/", {"wallet": "cold-01"}).json()["results"]
    assert [(lot["amount_sats"], lot["left_sats"], lot["left_btc"]) for lot in cold] == [
        (5 * BTC, 4 * BTC - 1_000, "3.99999000")
    ]


@pytest.mark.django_db
def test_csv_and_json_agree(clients: dict[str, Any], books: Books) -> None:
    as_json = clients["auditor"].get("/api/v1/lots/").json()["results"]
    as_csv = clients["auditor"].get("/api/v1/lots/", {"format": "csv"})

    assert as_csv["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode())))
    assert [(int(row["id"]), int(row["left_sats"]), row["category"]) for row in rows] == [
        (lot["id"], lot["left_sats"], lot["category"]) for lot in as_json
    ]


@pytest.mark.django_db
def test_a_proposal_naming_another_wallets_lot_is_a_400_naming_lots(clients: dict[str, Any], books: Books) -> None:
    foreign = Lot.objects.filter(wallet=books.cold).first()
    assert foreign is not None
    body = {
        "direction": "outbound",
        "category": "return_to_victims",
        "amount_sats": BTC // 10,
        "source_wallet": books.vault.pk,
        "external_address": EXTERNAL,
        "provenance_reference": "Order 10",
    }

    refused = clients["operator"].post(
        "/api/v1/transfers/", body | {"lots": [foreign.pk]}, format="json", HTTP_IDEMPOTENCY_KEY="lots-foreign"
    )
    bad_type = clients["operator"].post(
        "/api/v1/transfers/", body | {"lots": ["x"]}, format="json", HTTP_IDEMPOTENCY_KEY="lots-type"
    )

    assert refused.status_code == 400 and "lots" in refused.json()["error"]["fields"]
    assert bad_type.status_code == 400 and "lots[0]" in bad_type.json()["error"]["fields"]
