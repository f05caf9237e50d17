"""Fixtures for the admin tests: staff users per role, an agency, a funded regtest wallet, an
active holdings cap, and a client signed in as a given user."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from policy.models import PolicyVersion
from policy.services import policy_approve, policy_create_draft
from policy.types import PolicyScope
from reserve.custody.models import Agency, Wallet
from reserve.custody.services import agency_create, wallet_register
from tests.reserve.approved_imports import import_transfers
from tests.users import make_user as make_shared_user

BTC = 100_000_000
# Regtest account key m/84h/1h/0h of the BIP39 test mnemonic ("abandon ... about"): public part only.
TPUB = "tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M"
DESCRIPTOR = f"wpkh([73c5da0a/84h/1h/0h]{TPUB}/<0;1>/*)"
# First receive address of that account (tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk on testnet), on regtest.
FIRST_RECEIVE = "bcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk"
TPRV = "tprv8ZgxMBicQKsPe5YMU9gHen4Ez3ApihUfykaqUorj9t6FDqy3nP6eoXiAo2ssvpAjoLroQxHqr3R5nE3a5dU3DHTjTgJDd7zrbniJr6nrCzd"
EXTERNAL = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"


def make_user(username: str, *roles: str, superuser: bool = False) -> Any:
    """Admin users are staff."""
    return make_shared_user(username, *roles, staff=True, superuser=superuser)


@pytest.fixture
def signed_in() -> Callable[[Any], Client]:
    def sign_in(user: Any) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def agency(operator: Any) -> Agency:
    return agency_create(name="Ministry of Finance", kind="ministry", actor=operator)


@pytest.fixture
def wallet(operator: Any, agency: Agency) -> Wallet:
    return wallet_register(
        name="cold-01",
        agency=agency,
        kind="cold",
        network="regtest",
        gap_limit=3,
        descriptors=[DESCRIPTOR],
        actor=operator,
    )


@pytest.fixture
def funded_wallet(operator: Any, wallet: Wallet) -> Wallet:
    """cold-01 holding 2 BTC from a historical forfeiture."""
    import_transfers(
        text=(
            "occurred_at,direction,category,amount_btc,txid,block_height,destination_wallet,provenance_reference\n"
            f"2026-01-05T10:00:00Z,inbound,forfeiture,2,{'ab' * 32},100,cold-01,Case 1\n"
        ),
        proposer=operator,
    )
    return wallet


@pytest.fixture
def holdings_cap(policy_admins: list[Any]) -> PolicyVersion:
    """An active perimeter policy capping holdings at 3 BTC."""
    author, first, second = policy_admins
    draft = policy_create_draft(
        name="Reserve cap",
        scope=PolicyScope("perimeter"),
        rules=[{"type": "holdings_cap", "params": {"max_sats": 3 * BTC}}],
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
        author=author,
    )
    policy_approve(version=draft, approver=first)
    return policy_approve(version=draft, approver=second)
