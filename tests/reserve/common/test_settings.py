"""The confirmation depth and the reporting currency are read once (reserve/common/settings.py):
every consumer sees what the settings say, and no module reads the settings by itself."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from config.errors import Conflict
from reserve.common.settings import confirmation_depth, reporting_currency
from reserve.custody.models import Wallet
from reserve.pricing.models import PriceQuote
from reserve.reconciliation.services import reconciliation_run_start
from reserve.reports.holdings import holdings_report
from reserve.reports.wallets import wallet_balances
from reserve.transfers.models import Transfer
from reserve.transfers.services import (
    transfer_approve,
    transfer_confirm,
    transfer_create,
    transfer_finalize,
    transfer_propose,
)
from tests.reserve.conftest import fake_hash
from tests.source_tree import occurrences

BLOCK_HEIGHT = 100
BOOKED_AT = datetime(2026, 3, 1, 12, tzinfo=UTC)


def confirmed_inflow(wallet: Wallet, operator: Any, approver: Any, approver2: Any) -> Transfer:
    transfer = transfer_create(
        actor=operator, direction="inbound", category="forfeiture", amount_sats=50_000_000, destination_wallet=wallet
    )
    transfer_propose(transfer=transfer, actor=operator)
    transfer_approve(transfer=transfer, actor=approver)
    transfer_approve(transfer=transfer, actor=approver2)
    return transfer_confirm(
        transfer=transfer,
        txid=fake_hash("settings:tx"),
        vout=0,
        block_height=BLOCK_HEIGHT,
        block_hash=fake_hash("settings:block"),
        occurred_at=BOOKED_AT,
    )


def test_the_defaults_are_defined_in_config() -> None:
    # Only config/settings/base.py has a default; the accessor returns what it defined.
    assert (settings.RESERVE_CONFIRMATION_DEPTH, settings.RESERVE_REPORTING_CURRENCY) == (6, "USD")
    assert (confirmation_depth(), reporting_currency()) == (6, "USD")


@pytest.mark.parametrize(("depth", "currency"), [(3, "EUR"), (9, "GBP")])
def test_every_consumer_sees_the_overridden_settings(
    operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet, depth: int, currency: str
) -> None:
    # given quotes in the overriding currency and another one, and values away from the defaults
    for code, price in ((currency, Decimal("80000")), ("USD", Decimal("90000"))):
        PriceQuote.objects.create(at=datetime(2026, 1, 1, tzinfo=UTC), currency=code, price=price, source="test")
    with override_settings(RESERVE_CONFIRMATION_DEPTH=depth, RESERVE_REPORTING_CURRENCY=currency):
        # when / then: a transfer is valued in the reporting currency when it is booked
        transfer = confirmed_inflow(cold_wallet, operator, approver, approver2)
        assert (transfer.fiat_currency, transfer.fiat_value) == (currency, Decimal("40000.00"))
        # finalisation waits for exactly `depth` confirmations
        with pytest.raises(Conflict, match=f"{depth - 1} confirmations; {depth} are needed"):
            transfer_finalize(transfer=transfer, tip_height=BLOCK_HEIGHT + depth - 2)
        assert transfer_finalize(transfer=transfer, tip_height=BLOCK_HEIGHT + depth - 1).status == "final"
        # the wallet report, the holdings report and a reconciliation run use the same values
        assert wallet_balances(wallet=cold_wallet).confirmation_depth == depth
        report = holdings_report()
        assert (report.currency, report.total_fiat_value) == (currency, Decimal("40000.00"))
        run = reconciliation_run_start(wallet=cold_wallet, trigger="test")
        assert run.confirmation_depth == depth


def test_no_consumer_has_a_default_of_its_own(
    operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet, vault_wallet: Wallet
) -> None:
    # given a confirmed transfer and an approved one, then both settings gone (as if unset in config)
    confirmed = confirmed_inflow(cold_wallet, operator, approver, approver2)
    approved = transfer_create(
        actor=operator, direction="inbound", category="forfeiture", amount_sats=1_000, destination_wallet=vault_wallet
    )
    transfer_propose(transfer=approved, actor=operator)
    transfer_approve(transfer=approved, actor=approver)
    transfer_approve(transfer=approved, actor=approver2)
    with override_settings():
        del settings.RESERVE_CONFIRMATION_DEPTH
        del settings.RESERVE_REPORTING_CURRENCY
        # then every consumer fails instead of falling back on a value of its own
        consumers = {
            "finalisation": lambda: transfer_finalize(transfer=confirmed, tip_height=BLOCK_HEIGHT + 1000),
            "valuation": lambda: transfer_confirm(
                transfer=approved,
                txid=fake_hash("settings:tx2"),
                vout=0,
                block_height=BLOCK_HEIGHT + 1,
                block_hash=fake_hash("settings:block2"),
                occurred_at=BOOKED_AT,
            ),
            "wallet report": lambda: wallet_balances(wallet=cold_wallet),
            "holdings report": lambda: holdings_report(),
            "reconciliation": lambda: reconciliation_run_start(wallet=cold_wallet, trigger="test"),
        }
        fell_back = []
        for name, consume in consumers.items():
            try:
                consume()
            except AttributeError:
                continue
            fell_back.append(name)
    assert fell_back == []


def test_no_module_reads_the_settings_but_the_accessor() -> None:
    # A second reader could carry its own default (two did: 6 and "USD" beside settings with none).
    readers = occurrences(
        r"RESERVE_CONFIRMATION_DEPTH|RESERVE_REPORTING_CURRENCY",
        allowed=("reserve/common/settings.py", "config/"),
        apps=("ledger", "policy", "reserve"),
    )
    assert readers == []
