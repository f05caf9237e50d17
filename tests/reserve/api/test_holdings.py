"""Holdings as of a past time and a past height equal a replay of the journal; CSV says the same as JSON."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledger.models import JournalTransaction
from reserve.custody.models import Wallet
from reserve.pricing.models import PriceQuote
from reserve.reconciliation.models import BlockStatus, ChainBlock
from tests.reserve.api.conftest import BTC, Books, block_hash, block_time, record_block


def replay(wallets: list[Wallet], *, until: datetime | None = None, height: int | None = None) -> dict[int, int]:
    """Each wallet's balance by walking the whole journal in sequence order, from nothing."""
    by_account = {wallet.ledger_account_id: wallet.pk for wallet in wallets}
    balances = dict.fromkeys(by_account.values(), 0)
    for journal in JournalTransaction.objects.order_by("sequence").prefetch_related("entries"):
        if until is not None and journal.occurred_at > until:
            continue
        if height is not None and (journal.block_height is None or journal.block_height > height):
            continue
        for entry in journal.entries.all():
            if entry.account_id in by_account:
                balances[by_account[entry.account_id]] += entry.amount_sats
    return balances


def rows_by_key(body: dict[str, Any]) -> dict[str, int]:
    return {row["key"]: row["balance_sats"] for row in body["rows"]}


@pytest.mark.django_db
def test_holdings_at_a_past_time_equal_the_replayed_journal(clients: dict[str, Any], books: Books) -> None:
    # given: a time after block 102 and before the consolidation at block 103
    at = block_time(102) + timedelta(minutes=30)
    wallets = [books.cold, books.vault, books.signer]
    PriceQuote.objects.create(at=block_time(100), currency="USD", price=Decimal("60000.00"), source="test")
    # when
    body = clients["auditor"].get("/api/v1/holdings/", {"as_of": at.isoformat(), "group_by": "wallet"}).json()
    # then
    expected = replay(wallets, until=at)
    assert rows_by_key(body) == {str(pk): sats for pk, sats in expected.items()}
    assert expected == {books.cold.pk: 5 * BTC, books.vault.pk: 2 * BTC, books.signer.pk: 0}
    assert body["total_sats"] == 7 * BTC
    assert body["total_btc"] == "7.00000000"
    assert body["height"] == 102
    assert body["block_hash"] == block_hash(102)
    assert body["quote"]["price"] == "60000.00000000"
    assert body["total_fiat_value"] == "420000.00"
    cold = next(row for row in body["rows"] if row["key"] == str(books.cold.pk))
    assert cold["balance_btc"] == "5.00000000"
    assert cold["fiat_value"] == "300000.00"


@pytest.mark.django_db
def test_holdings_at_a_past_height_equal_the_replayed_journal(clients: dict[str, Any], books: Books) -> None:
    # given
    wallets = [books.cold, books.vault, books.signer]
    # when
    body = clients["auditor"].get("/api/v1/holdings/", {"height": 103}).json()
    # then: the consolidation moved 1 BTC and paid a 1,000 sat fee
    expected = replay(wallets, height=103)
    assert rows_by_key(body) == {str(pk): sats for pk, sats in expected.items()}
    assert expected == {books.cold.pk: 4 * BTC - 1_000, books.vault.pk: 3 * BTC, books.signer.pk: 0}
    assert body["height"] == 103
    assert body["block_hash"] == block_hash(103)
    assert body["as_of"] == block_time(103).isoformat().replace("+00:00", "Z")


@pytest.mark.django_db
@pytest.mark.parametrize("group_by", ["agency", "category", "provenance"])
def test_every_grouping_adds_up_to_the_same_total(clients: dict[str, Any], books: Books, group_by: str) -> None:
    # given
    by_wallet = clients["auditor"].get("/api/v1/holdings/", {"height": 104}).json()
    # when
    grouped = clients["auditor"].get("/api/v1/holdings/", {"height": 104, "group_by": group_by}).json()
    # then
    assert sum(row["balance_sats"] for row in grouped["rows"]) == by_wallet["total_sats"] == 10 * BTC - 1_000
    assert grouped["total_sats"] == by_wallet["total_sats"]
    if group_by == "category":
        assert rows_by_key(grouped) == {
            "forfeiture": 5 * BTC,
            "purchase": 2 * BTC,
            "internal_consolidation": -1_000,
            "mining_reward": 3 * BTC,
        }
    if group_by == "provenance":
        assert rows_by_key(grouped)["Order 7"] == 5 * BTC


@pytest.mark.django_db
def test_category_filter_keeps_only_that_category(clients: dict[str, Any], books: Books) -> None:
    # when
    body = clients["auditor"].get("/api/v1/holdings/", {"height": 104, "category": "purchase"}).json()
    # then
    assert rows_by_key(body) == {str(books.cold.pk): 0, str(books.vault.pk): 2 * BTC, str(books.signer.pk): 0}


@pytest.mark.django_db
@pytest.mark.parametrize("group_by", ["wallet", "category"])
def test_csv_and_json_agree(clients: dict[str, Any], books: Books, group_by: str) -> None:
    # given
    query = {"height": 103, "group_by": group_by}
    # when
    as_json = clients["auditor"].get("/api/v1/holdings/", query).json()
    as_csv = clients["auditor"].get("/api/v1/holdings/", query | {"format": "csv"})
    # then
    assert as_csv["Content-Type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(as_csv.content.decode())))
    assert [(line["key"], int(line["balance_sats"]), line["balance_btc"]) for line in lines] == [
        (row["key"], row["balance_sats"], row["balance_btc"]) for row in as_json["rows"]
    ]
    assert {line["height"] for line in lines} == {"103"}
    assert {line["block_hash"] for line in lines} == {as_json["block_hash"]}
    assert {int(line["total_sats"]) for line in lines} == {as_json["total_sats"]}


@pytest.mark.django_db
def test_list_csv_has_the_page_rows(clients: dict[str, Any], books: Books) -> None:
    # when
    as_json = clients["auditor"].get("/api/v1/transfers/").json()
    as_csv = clients["auditor"].get("/api/v1/transfers/", {"format": "csv"})
    # then
    lines = list(csv.DictReader(io.StringIO(as_csv.content.decode())))
    assert [int(line["id"]) for line in lines] == [row["id"] for row in as_json["results"]]
    assert [line["amount_btc"] for line in lines] == [row["amount_btc"] for row in as_json["results"]]


@pytest.mark.django_db
def test_ledger_accounts_as_of_height_state_the_block(clients: dict[str, Any], books: Books) -> None:
    # when
    body = clients["auditor"].get("/api/v1/ledger/accounts/", {"height": 102, "code_prefix": "assets:"}).json()
    # then
    balances = {row["code"]: row["balance_sats"] for row in body["results"]}
    assert balances["assets:custody:cold-01"] == 5 * BTC
    assert balances["assets:custody:vault-02"] == 2 * BTC
    assert (body["height"], body["block_hash"]) == (102, block_hash(102))


@pytest.mark.django_db
def test_wallet_detail_has_descriptors_addresses_and_balances(clients: dict[str, Any], books: Books) -> None:
    # when
    body = clients["auditor"].get(f"/api/v1/wallets/{books.vault.pk}/").json()
    # then: 2 BTC bought at 102 and 1 BTC consolidated at 103; tip 104, depth 6: nothing final yet
    assert body["balances"]["balance_sats"] == 3 * BTC
    assert body["balances"]["confirmed_sats"] == 0
    assert body["balances"]["tip_height"] == 104
    assert body["descriptors"][0]["descriptor"].startswith("wpkh([b8688df1/84h/1h/0h]")
    assert len(body["addresses"]) == 4
    assert body["last_reconciliation"] is None and body["last_checked_at"] is None


@pytest.mark.django_db
def test_the_category_vocabulary_is_listed_with_legal_references(clients: dict[str, Any]) -> None:
    body = clients["auditor"].get("/api/v1/categories/?page_size=100").json()
    terms = {term["code"]: term for term in body["results"]}
    assert terms["seizure"]["legal_reference"].startswith("A seizure warrant")
    assert (terms["dust"]["involuntary"], terms["purchase"]["involuntary"]) == (True, False)
    assert {term["status"] for term in terms.values()} == {"active"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/holdings/", "/api/v1/ledger/accounts/"])
def test_a_height_above_the_verified_tip_is_a_400_naming_it(clients: dict[str, Any], books: Books, path: str) -> None:
    # given: the verified chain ends at 104; a header at 110 that failed verification is no tip
    record_block(110)
    ChainBlock.objects.filter(height=110).update(status=BlockStatus.REJECTED)
    # when
    above = clients["auditor"].get(path, {"height": 105})
    at_tip = clients["auditor"].get(path, {"height": 104})
    # then: the tip is named; at the tip the report is stated at its block
    assert above.status_code == 400, above.content
    assert above.json()["error"]["fields"]["height"] == ["is above the highest verified block (104)"]
    assert at_tip.status_code == 200, at_tip.content
    assert (at_tip.json()["height"], at_tip.json()["block_hash"]) == (104, block_hash(104))
