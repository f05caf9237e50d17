"""`manage.py seed_demo` on a real regtest node: a history of real transactions, the three scenarios
as approved policies; a second run changes nothing; after one reconciliation every wallet's books
equal its chain balance, and the staged donation is the only open discrepancy and breach."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Max, Min
from django.test import Client
from django.urls import reverse

from ledger.models import JournalTransaction
from policy.models import PolicyBreach, PolicyVersion
from reserve.chain.blocks import Watchlist, scan_block
from reserve.custody.models import Wallet
from reserve.management.commands.seed_demo import (
    BTC,
    CONSOLIDATION_HEIGHT,
    DONATION_HEIGHT,
    FEE_SATS,
    MINING_IMMATURE_HEIGHT,
    MINING_MATURE_HEIGHT,
    TIP_HEIGHT,
    TRANCHE_SATS,
    USERS,
)
from reserve.pricing.models import PriceQuote
from reserve.reconciliation.models import (
    DISCREPANCY_MEANING,
    Discrepancy,
    DiscrepancyKind,
    ReconciliationRun,
    WalletUtxo,
)
from reserve.transfers.models import BuiltPsbt, Transfer
from tests.regtest.node import RegtestNode

pytestmark = pytest.mark.django_db

COINBASE_MATURITY = 100

# Every table the demo writes: what the service keeps (ledger, policy, reserve) and its users.
SEEDED_APPS = ("auth", "ledger", "policy", "reserve")


def rows() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every seeded table, every column: a second run may neither add, remove nor rewrite one."""
    return {
        model._meta.label: list(model._base_manager.order_by("pk").values_list())
        for label in SEEDED_APPS
        for model in apps.get_app_config(label).get_models()
    }


@pytest.fixture
def demo_node(regtest_node: RegtestNode, settings: Any) -> Iterator[RegtestNode]:
    settings.BITCOIN_NETWORK = "regtest"
    settings.BITCOIN_RPC_URL = regtest_node.rpc_url
    yield regtest_node


def test_every_demo_user_signs_in_to_the_admin_with_the_password_it_prints(settings: Any) -> None:
    # given: the demo seeded (its users need no node)
    settings.BITCOIN_RPC_URL = ""
    out = StringIO()
    call_command("seed_demo", stdout=out)
    for username, role, password in USERS:
        # then: each is listed with its password, and the admin's login form lets it in
        assert f"{role:<13} {username:<13} password: {password}" in out.getvalue()
        client = Client()
        response = client.post(
            reverse("admin:login"), {"username": username, "password": password, "next": reverse("admin:index")}
        )
        assert (response.status_code, response.get("Location")) == (302, reverse("admin:index")), username
        assert client.get(reverse("admin:index")).status_code == 200, username


@pytest.mark.integration
def test_seed_twice_is_once_and_one_reconciliation_leaves_only_the_staged_donation(demo_node: RegtestNode) -> None:
    # when: seeded twice
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first = rows()
    with demo_node.source() as source:
        tip = source.block_count()
    call_command("seed_demo", stdout=StringIO())

    # then: the second run changed nothing, in the books or on the chain
    second = rows()
    assert {label: len(table) for label, table in second.items()} == {
        label: len(table) for label, table in first.items()
    }
    assert second == first
    assert len(first["reserve.Transfer"]) > 0 and len(first["ledger.Entry"]) > 0
    with demo_node.source() as source:
        assert source.block_count() == tip == TIP_HEIGHT
    assert "approver1" in out.getvalue() and "policyadmin3" in out.getvalue()
    # three policies in force, each by its own author and approved by the two others
    active = PolicyVersion.objects.filter(status="active").select_related("policy", "author")
    admins = {"policyadmin1", "policyadmin2", "policyadmin3"}
    scenarios = {}
    for version in active:
        approvers = set(version.approvals.values_list("approver__username", flat=True))
        assert version.author.username not in approvers and approvers | {version.author.username} == admins
        scenarios[version.policy.name.split(":")[0]] = [rule["type"] for rule in version.rules]
    assert scenarios == {
        "El Salvador-like": ["no_net_accumulation"],
        "US-like": ["allowed_sources", "no_disposal"],
        "Pakistan-like": ["allowed_sources", "no_disposal", "holdings_cap"],
    }
    # the forfeitures cite their court orders, the coinbases their mining site
    references = dict(Transfer.objects.values_list("idempotency_key", "provenance_reference"))
    assert all(references[f"seed-demo:forfeiture-{n}"] for n in (1, 2))
    assert all(references[f"seed-demo:mining-{h}"] for h in (MINING_MATURE_HEIGHT, MINING_IMMATURE_HEIGHT))
    # USD and PKR quotes over the whole history: from before the first block to after the tip
    with demo_node.source() as source:
        first_block, tip_block = (
            datetime.fromtimestamp(int.from_bytes(source.raw_block_header(source.block_hash(h))[68:72], "little"), UTC)
            for h in (1, TIP_HEIGHT)
        )
    for currency in ("USD", "PKR"):
        quotes = PriceQuote.objects.filter(currency=currency).aggregate(first=Min("at"), last=Max("at"))
        assert quotes["first"] <= first_block and quotes["last"] >= tip_block, currency

    # when: one reconciliation, as `make run` does after seeding
    call_command("reconcile", stdout=StringIO())

    # then: every wallet's books equal its chain balance, booked at heights the chain has
    for wallet in Wallet.objects.all():
        run = ReconciliationRun.objects.filter(wallet=wallet).latest("pk")
        assert (run.status, run.height) == ("succeeded", TIP_HEIGHT), wallet.name
        assert run.chain_balance_sats == run.ledger_balance_sats, wallet.name
    # every booking is a transaction the chain has, in the block at its height (no invented txid)
    booked = Transfer.objects.exclude(block_height=None)
    assert booked.count() == 7  # purchase, 2 forfeitures, 2 coinbases, consolidation, donation
    with demo_node.source() as source:
        for transfer in booked:
            assert transfer.block_height is not None
            block = scan_block(source.raw_block(source.block_hash(transfer.block_height)), Watchlist())
            assert (transfer.txid in block.txids, block.hash) == (True, transfer.block_hash)
    # and so is every posting that names a block: its transaction in that block, on the chain's tip
    dated = JournalTransaction.objects.exclude(block_height=None)
    assert dated.count() >= booked.count()
    with demo_node.source() as source:
        for journal in dated:
            assert journal.block_height is not None and journal.block_height <= TIP_HEIGHT, journal.pk
            assert journal.block_hash in (None, source.block_hash(journal.block_height)), journal.pk
            if journal.txid:
                txids = scan_block(source.raw_block(source.block_hash(journal.block_height)), Watchlist()).txids
                assert journal.txid in txids, journal.pk
    statuses = dict(Transfer.objects.values_list("idempotency_key", "status"))
    assert statuses["seed-demo:consolidation"] in ("confirmed", "final")
    assert statuses["seed-demo:restitution"] == "pending_approval"
    # an approved tranche from the treasury's P2WPKH wallet waits for its signature: its PSBT,
    # built once, spends the consolidation's change and downloads from the signing panel
    tranche = Transfer.objects.get(idempotency_key="seed-demo:second-tranche")
    (built,) = BuiltPsbt.objects.filter(transfer=tranche)
    assert (tranche.status, tranche.amount_sats, built.status) == ("approved", TRANCHE_SATS, "built")
    reserved = WalletUtxo.objects.filter(reservations__transfer=tranche).values_list("wallet__name", "block_height")
    assert list(reserved) == [("treasury-cold-01", CONSOLIDATION_HEIGHT)]
    # and the only open discrepancy and breach are the donation's
    (discrepancy,) = Discrepancy.objects.filter(status="open")
    assert (discrepancy.wallet.name, discrepancy.kind, discrepancy.block_height, discrepancy.actual_sats) == (
        "treasury-cold-01",
        "unrecorded_inflow",
        DONATION_HEIGHT,
        50_000_000,
    )
    (breach,) = PolicyBreach.objects.filter(status="open")
    assert breach.version.policy.name.startswith("El Salvador-like")
    assert breach.block_height == DONATION_HEIGHT
    # which the operator's dashboard shows, and explains
    client = Client()
    client.force_login(get_user_model().objects.get(username="operator"))
    page = client.get(reverse("admin:index")).content.decode()
    assert 'id="open-discrepancy-count">1<' in page and 'id="open-breach-count">1<' in page
    assert "that no transfer proposed" in page and DISCREPANCY_MEANING[DiscrepancyKind.UNRECORDED_INFLOW][:60] in page
    assert "El Salvador-like: no net accumulation" in page
    # with the holdings charts, server-rendered SVG against each cap in force (no script)
    assert page.count('<svg class="holdings-chart"') == 3  # the perimeter, El Salvador-like, Pakistan-like
    assert "holdings cap: 25 BTC" in page and "no net accumulation: 12 BTC" in page
    # and each wallet's own page charts its holdings, server-drawn
    for wallet in Wallet.objects.all():
        own = client.get(reverse("admin:reserve_wallet_change", args=[wallet.pk])).content.decode()
        assert own.count('<svg class="holdings-chart"') == 1, wallet.name
    mining = Wallet.objects.get(name="mining-payout-01")
    wallet_page = client.get(reverse("admin:reserve_wallet_change", args=[mining.pk])).content.decode()
    assert '<svg class="holdings-chart"' in wallet_page and "holdings cap: 25 BTC" in wallet_page
    download = client.get(reverse("admin:reserve_transfer_psbt_download", args=[tranche.pk]))
    assert (download.status_code, download.content) == (200, bytes(built.combined))
    assert download.content.startswith(b"psbt\xff")
    assert "<script" not in wallet_page.split('<svg class="holdings-chart"')[1].split("</svg>")[0]
    # the mining site holds a mature coinbase and one fewer than 100 blocks deep (immature)
    mined = WalletUtxo.objects.filter(wallet__name="mining-payout-01", status="unspent")
    assert sorted(mined.values_list("block_height", flat=True)) == [MINING_MATURE_HEIGHT, MINING_IMMATURE_HEIGHT]
    assert TIP_HEIGHT - MINING_IMMATURE_HEIGHT + 1 < COINBASE_MATURITY
    # which the scanner flagged as coinbases (nothing else is) and the wallet page marks so
    assert set(WalletUtxo.objects.filter(coinbase=True).values_list("wallet__name", "block_height")) == {
        ("mining-payout-01", MINING_MATURE_HEIGHT),
        ("mining-payout-01", MINING_IMMATURE_HEIGHT),
    }
    coins = wallet_page.split('id="wallet-coins"')[1]
    assert coins.count("immature coinbase") == 1 and coins.count("coinbase (mature)") == 1
    assert "spendable" not in wallet_page.lower()
    # the treasury: 12 BTC bought, 10 consolidated (plus the fee), 0.5 donated
    cold = ReconciliationRun.objects.filter(wallet__name="treasury-cold-01").latest("pk")
    assert cold.ledger_balance_sats == 12 * BTC - 10 * BTC - FEE_SATS + BTC // 2
