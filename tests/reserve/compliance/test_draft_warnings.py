"""Draft warnings for flow limits, against real postings on PostgreSQL: a velocity limit whose
current window the books have already overrun, a per-transfer limit a transfer in flight exceeds,
and the boundaries (exactly at the limit, other categories, the window's start)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from policy.models import PolicyVersion
from policy.rules.flows import period_start
from policy.services import policy_create_draft
from policy.types import PolicyScope
from reserve.compliance.selectors import policy_draft_warnings
from reserve.custody.models import Wallet
from reserve.transfers.models import TransferStatus
from reserve.transfers.services import transfer_create, transfer_propose
from tests.reserve.approved_imports import import_transfers
from tests.reserve.conftest import REGTEST_EXTERNAL, fake_hash

pytestmark = pytest.mark.django_db

BTC = 100_000_000
HEADER = (
    "occurred_at,direction,category,amount_btc,fee_btc,source_wallet,destination_wallet,external_address,"
    "provenance_reference,txid,vout,block_height\n"
)


@pytest.fixture
def books(operator: Any, cold_wallet: Wallet) -> Wallet:
    """10 BTC forfeited long ago; 1 BTC returned to victims a second before this month began
    (last month's window) and 2 BTC at the month's first instant (this month's)."""
    month = period_start(timezone.now(), "month")
    rows = [
        (month - timedelta(days=400), "inbound,forfeiture,10,", f",{cold_wallet.name},", "Order 1", 100),
        (month - timedelta(seconds=1), "outbound,return_to_victims,1,0.0001", f"{cold_wallet.name},,", "Order 2", 200),
        (month, "outbound,return_to_victims,2,0.0001", f"{cold_wallet.name},,", "Order 3", 300),
    ]
    text = HEADER + "".join(
        f"{at.isoformat()},{what},{ends}{REGTEST_EXTERNAL if ends.endswith(',,') else ''},{reference},"
        f"{fake_hash(reference)},0,{height}\n"
        for at, what, ends, reference, height in rows
    )
    import_transfers(text=text, proposer=operator)
    return cold_wallet


def draft(policy_admins: list[Any], wallet: Wallet, *rules: dict[str, Any], kind: str = "agency") -> PolicyVersion:
    """A draft over the wallet's agency (or the wallet) from next year on, so no past-date warning mixes in."""
    return policy_create_draft(
        name=f"Flow limits {PolicyVersion.objects.count()}",
        scope=PolicyScope("agency", wallet.agency_id) if kind == "agency" else PolicyScope("wallet", wallet.pk),
        rules=list(rules),
        effective_from=timezone.now().replace(year=timezone.now().year + 1),
        author=policy_admins[0],
    )


def velocity(max_sats: int, **extra: Any) -> dict[str, Any]:
    return {"type": "velocity_limit", "params": {"max_sats": max_sats, "direction": "outbound", **extra}}


@pytest.mark.parametrize("kind", ["agency", "wallet"])
def test_a_velocity_limit_the_month_already_overran_warns_and_one_exactly_at_it_does_not(
    policy_admins: list[Any], books: Wallet, kind: str
) -> None:
    # when: 1 BTC a month, then exactly the 2 BTC this month moved
    over = policy_draft_warnings(version=draft(policy_admins, books, velocity(BTC, calendar="month"), kind=kind))
    at_limit = policy_draft_warnings(
        version=draft(policy_admins, books, velocity(2 * BTC, calendar="month"), kind=kind)
    )
    # then: only this month's 2 BTC count (last month's 1 BTC a second before does not)
    (warning,) = over
    assert warning.startswith("velocity_limit is already exceeded in its current window by the books")
    assert "2.00000000 BTC already moved outbound" in warning and "against 1.00000000 BTC" in warning
    assert at_limit == []


def test_a_velocity_limit_counts_only_its_direction_categories_and_window(
    policy_admins: list[Any], books: Wallet
) -> None:
    # when: limits that the 2 BTC returned to victims this month do not concern, and a rolling
    # 60 days that also holds last month's 1 BTC
    sales = draft(policy_admins, books, velocity(BTC, calendar="month", categories=["sale"]))
    inbound = draft(
        policy_admins,
        books,
        {"type": "velocity_limit", "params": {"max_sats": 1, "calendar": "month", "direction": "inbound"}},
    )
    rolling = velocity(250_000_000, window_seconds=60 * 86_400, categories=["return_to_victims"])
    # then
    assert policy_draft_warnings(version=sales) == []
    assert policy_draft_warnings(version=inbound) == []
    (warning,) = policy_draft_warnings(version=draft(policy_admins, books, rolling))
    assert "3.00000000 BTC already moved outbound" in warning and "in any 60 days" in warning
    assert policy_draft_warnings(version=draft(policy_admins, books, velocity(250_000_000, calendar="month"))) == []


def test_a_per_transfer_limit_below_a_transfer_in_flight_warns_and_names_it(
    operator: Any, policy_admins: list[Any], books: Wallet
) -> None:
    # given: 1.5 BTC outbound awaiting approval
    pending = transfer_propose(
        transfer=transfer_create(
            actor=operator,
            direction="outbound",
            category="return_to_victims",
            amount_sats=150_000_000,
            fee_sats=1_000,
            source_wallet=books,
            external_address=REGTEST_EXTERNAL,
            provenance_reference="Order 4",
        ),
        actor=operator,
    )
    assert pending.status == TransferStatus.PENDING_APPROVAL

    def limit(max_sats: int, direction: str = "outbound") -> list[str]:
        rule = {"type": "transfer_limit", "params": {"max_sats": max_sats, "direction": direction}}
        return policy_draft_warnings(version=draft(policy_admins, books, rule))

    # when / then: 1 BTC warns of that transfer; exactly 1.5 BTC, or a limit on inflows, does not
    (warning,) = limit(BTC)
    assert f"transfer #{pending.pk} (pending_approval)" in warning
    assert "Transfer of 1.50000000 BTC against a per-transfer limit of 1.00000000 BTC: over." in warning
    assert limit(150_000_000) == []
    assert limit(BTC, "inbound") == []
