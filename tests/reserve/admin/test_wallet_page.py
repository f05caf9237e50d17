"""The wallet page: its transactions (confirmations at the scanned height, the transfer each
books), its coins with their holds (frozen, reserved, immature coinbase; never "spendable"), the
next receive address with its QR code, and "Reconcile now" (POST, permission-checked, through
the outbox). The scanner's coinbase flag on a real chain: tests/reserve/management/test_seed_demo.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reserve.audit.models import AuditEvent
from reserve.custody.models import Wallet, WatchedScript
from reserve.outbox.models import OutboxMessage
from reserve.reconciliation.models import ReconciliationRun, ScanCursor, UtxoStatus, WalletUtxo
from reserve.transfers.coins import utxo_freeze
from reserve.transfers.models import Transfer
from tests.reserve.admin.conftest import BTC, FIRST_RECEIVE
from tests.reserve.api.conftest import block_hash, record_block

pytestmark = pytest.mark.django_db

FORFEITURE_TXID = "ab" * 32  # the funded_wallet fixture's imported transfer
SPENDER_TXID = "ff" * 32


def coin(wallet: Wallet, *, txid: str, height: int, sats: int, coinbase: bool = False, **fields: Any) -> WalletUtxo:
    block = recorded[height]
    script = WatchedScript.objects.filter(wallet=wallet, chain=0, index=1).get()
    return WalletUtxo.objects.create(
        wallet=wallet,
        txid=txid,
        vout=0,
        value_sats=sats,
        script_pubkey=bytes(script.script_pubkey),
        block=block,
        block_height=height,
        coinbase=coinbase,
        **fields,
    )


recorded: dict[int, Any] = {}


@pytest.fixture
def scanned(funded_wallet: Wallet, operator: Any) -> Wallet:
    """cold-01 scanned to block 105: the forfeiture (2 BTC at 100), a coinbase at 101 (immature),
    a frozen coin at 100, and a coin received at 100 and spent at 102."""
    recorded.clear()
    for height in range(100, 106):
        recorded[height] = record_block(height)
    coin(funded_wallet, txid=FORFEITURE_TXID, height=100, sats=2 * BTC)
    coin(funded_wallet, txid="c0" * 32, height=101, sats=BTC // 2, coinbase=True)
    frozen = coin(funded_wallet, txid="cd" * 32, height=100, sats=546)
    utxo_freeze(utxo_id=frozen.pk, actor=operator, reason="dust from an unknown sender")
    coin(
        funded_wallet,
        txid="ee" * 32,
        height=100,
        sats=BTC,
        status=UtxoStatus.SPENT,
        spent_by_txid=SPENDER_TXID,
        spent_in_block=recorded[102],
        spent_height=102,
    )
    ScanCursor.objects.update_or_create(wallet=funded_wallet, defaults={"height": 105, "block_hash": block_hash(105)})
    return funded_wallet


def rows(page: str, css_class: str) -> list[str]:
    return [part.split("</tr>")[0] for part in page.split(f'<tr class="{css_class}">')[1:]]


def test_the_page_lists_transactions_coins_and_the_next_receive_address(
    scanned: Wallet, operator: Any, signed_in: Callable[[Any], Client]
) -> None:
    page = signed_in(operator).get(reverse("admin:reserve_wallet_change", args=[scanned.pk])).content.decode()

    # transactions, newest first, confirmations counted to the scanned block 105
    transactions = rows(page, "wallet-transaction")
    assert [row.split("<td")[1].split(">")[1].split("<")[0] for row in transactions] == [
        SPENDER_TXID,
        "c0" * 32,
        *sorted([FORFEITURE_TXID, "cd" * 32, "ee" * 32]),
    ]
    spender = transactions[0]
    assert ">102<" in spender and ">4<" in spender and "1.00000000 BTC" in spender and "no transfer" in spender
    forfeiture = next(row for row in transactions if FORFEITURE_TXID in row)
    transfer = Transfer.objects.get(txid=FORFEITURE_TXID)
    assert ">6<" in forfeiture and reverse("admin:reserve_transfer_change", args=[transfer.pk]) in forfeiture

    # coins: only the unspent ones, each hold named, nothing called spendable
    coins = {row.split("</td>")[0].rsplit(">", 1)[1]: row for row in rows(page, "wallet-coin")}
    assert set(coins) == {f"{FORFEITURE_TXID}:0", f"{'c0' * 32}:0", f"{'cd' * 32}:0"}
    assert "frozen: dust from an unknown sender" in coins[f"{'cd' * 32}:0"]
    assert "immature coinbase" in coins[f"{'c0' * 32}:0"] and ">5<" in coins[f"{'c0' * 32}:0"]
    assert "unfrozen" in coins[f"{FORFEITURE_TXID}:0"]
    assert "unfrozen" not in coins[f"{'cd' * 32}:0"] + coins[f"{'c0' * 32}:0"]
    assert "spendable" not in page.lower()

    # lots held: the imported forfeiture, with its acquisition date and order
    (lot,) = rows(page, "wallet-lot")
    assert ">forfeiture<" in lot and "2.00000000 BTC" in lot

    # the next unused receive address (index 0: nothing paid it), with its QR code as inline SVG
    receive = page.split('id="wallet-receive"')[1].split("</div>\n\n")[0]
    assert FIRST_RECEIVE in receive and '<svg width="' in receive and f"<title>{FIRST_RECEIVE}</title>" in receive
    assert "<script" not in receive


def test_a_coinbase_is_marked_mature_once_100_blocks_deep(
    scanned: Wallet, operator: Any, signed_in: Callable[[Any], Client]
) -> None:
    # given: the scan reached block 200 (the coinbase at 101 is 100 deep: spendable in block 201)
    ScanCursor.objects.filter(wallet=scanned).update(height=200)
    page = signed_in(operator).get(reverse("admin:reserve_wallet_change", args=[scanned.pk])).content.decode()
    coinbase = next(row for row in rows(page, "wallet-coin") if "c0" * 32 in row)
    assert "immature" not in coinbase and "coinbase (mature)" in coinbase
    # one block less, and it is immature again
    ScanCursor.objects.filter(wallet=scanned).update(height=199)
    page = signed_in(operator).get(reverse("admin:reserve_wallet_change", args=[scanned.pk])).content.decode()
    assert "immature coinbase" in next(row for row in rows(page, "wallet-coin") if "c0" * 32 in row)


def test_reconcile_now_enqueues_the_wallets_task_through_the_outbox_and_shows_the_request(
    scanned: Wallet, operator: Any, signed_in: Callable[[Any], Client]
) -> None:
    client = signed_in(operator)
    url = reverse("admin:reserve_wallet_reconcile", args=[scanned.pk])
    assert client.get(url).status_code == 405
    assert not OutboxMessage.objects.filter(task_name="reserve.reconcile_wallet_task").exists()

    response = client.post(url)

    assert response.status_code == 302
    message = OutboxMessage.objects.get(task_name="reserve.reconcile_wallet_task")
    assert message.args == [scanned.pk] and message.dispatched_at is None  # sent after commit (none in this test)
    assert AuditEvent.objects.filter(action="wallet.reconcile_request", object_id=str(scanned.pk)).count() == 1
    page = client.get(response["Location"]).content.decode()
    assert "Reconcile now" in page and "waiting for the broker" in page
    # a run the worker records shows on the page with its progress
    run = ReconciliationRun.objects.create(
        wallet=scanned, trigger="task", confirmation_depth=6, height=105, blocks_scanned=3, discrepancy_count=1
    )
    OutboxMessage.objects.filter(pk=message.pk).update(dispatched_at=message.created_at)
    page = client.get(response["Location"]).content.decode()
    assert "sent to the worker" in page
    row = rows(page, "reconcile-run")[0]
    assert f">{run.pk}<" in row and "running (scanned to block 105 so far" in row and ">3<" in row and ">1<" in row
    # and its result once it finished
    ReconciliationRun.objects.filter(pk=run.pk).update(
        status="succeeded", finished_at=message.created_at, chain_balance_sats=2 * BTC, ledger_balance_sats=2 * BTC
    )
    row = rows(client.get(response["Location"]).content.decode(), "reconcile-run")[0]
    assert "succeeded" in row and "so far" not in row and row.count("2.00000000 BTC") == 2
    # and the last check, which a later run that found nothing new moves without a row of its own
    assert "Last checked never" in client.get(response["Location"]).content.decode()
    ScanCursor.objects.filter(wallet=scanned).update(checked_at=datetime(2026, 12, 3, 13, 5, 7, tzinfo=UTC))
    assert "Last checked 2026-12-03 13:05:07" in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize("role", ["auditor", "approver"])
def test_reconcile_now_is_refused_without_the_permission(
    role: str, scanned: Wallet, request: pytest.FixtureRequest, signed_in: Callable[[Any], Client]
) -> None:
    client = signed_in(request.getfixturevalue(role))
    page = client.get(reverse("admin:reserve_wallet_change", args=[scanned.pk])).content.decode()
    assert "Reconcile now" not in page

    response = client.post(reverse("admin:reserve_wallet_reconcile", args=[scanned.pk]))

    assert response.status_code == 403
    assert not OutboxMessage.objects.filter(task_name="reserve.reconcile_wallet_task").exists()


def test_the_coin_list_shows_each_hold_in_a_number_of_queries_that_does_not_grow_with_the_coins(
    scanned: Wallet, operator: Any, signed_in: Callable[[Any], Client]
) -> None:
    client = signed_in(operator)
    url = reverse("admin:reserve_walletutxo_changelist")

    def listed() -> tuple[str, int]:
        with CaptureQueriesContext(connection) as queries:
            page = client.get(url).content.decode()
        return page, len(queries)

    page, before = listed()
    assert page.count("frozen · Unfreeze…") == 1 and page.count(">Freeze…<") == 3
    for index in range(5):
        more = coin(scanned, txid=f"{index:02x}" * 32, height=103, sats=1000 + index)
        if index % 2:
            utxo_freeze(utxo_id=more.pk, actor=operator, reason="held for the test")

    page, after = listed()
    assert page.count("frozen · Unfreeze…") == 3 and page.count(">Freeze…<") == 6
    assert after == before
