"""Fixtures for the reconciliation tests: a superuser-run reserve with wallets on the regtest node's keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from policy.services import policy_approve, policy_create_draft
from policy.types import PolicyScope
from reserve.chain.blocks import Outpoint
from reserve.custody.models import Agency, Wallet
from reserve.custody.services import agency_create, wallet_register
from tests.regtest.blocks import mine_block, spend_p2wpkh, txid_of
from tests.regtest.fixtures import SegwitChain
from tests.regtest.keys import WalletKey
from tests.regtest.source import RegtestSource
from tests.users import make_user

FEE_SATS = 1_000


@pytest.fixture
def admin_user(db: None) -> Any:
    # Transactional tests flush the role groups that migrations create; a superuser needs none.
    return get_user_model().objects.create_superuser(username="root", password="x")


@pytest.fixture
def agency(admin_user: Any) -> Agency:
    return agency_create(name="Central Bank", kind="central_bank", actor=admin_user)


def key_wallet(actor: Any, agency: Agency, name: str, key: WalletKey, *, birthday_height: int, **extra: Any) -> Wallet:
    """A wallet watching one test key's P2WPKH address."""
    return wallet_register(
        name=name,
        agency=agency,
        kind=extra.pop("kind", "cold"),
        network="regtest",
        birthday_height=birthday_height,
        addresses=[key.p2wpkh_address],
        actor=actor,
        **extra,
    )


@dataclass
class Coin:
    """A spendable P2WPKH output of a test key."""

    outpoint: Outpoint
    value_sats: int
    key: WalletKey


class Payer:
    """Pays from the miner's mature coinbase outputs, one coinbase per payment, mined by the test."""

    def __init__(self, chain: SegwitChain, first_coinbase_height: int) -> None:
        self.chain = chain
        self.next_height = first_coinbase_height

    def coin(self) -> Coin:
        outpoint, value = self.chain.coinbase_output(self.next_height)
        self.next_height += 1
        return Coin(outpoint, value, self.chain.miner_key)


def pay(coins: list[Coin], outputs: list[tuple[bytes, int]], *, change: WalletKey | None = None) -> Any:
    """A signed transaction spending `coins` (one key) to `outputs`, change to `change`, fee FEE_SATS."""
    total = sum(coin.value_sats for coin in coins)
    rest = total - sum(value for _, value in outputs) - FEE_SATS
    assert rest >= 0
    if rest and change is not None:
        outputs = [*outputs, (change.p2wpkh_script, rest)]
    return spend_p2wpkh(coins[0].key, [(coin.outpoint, coin.value_sats) for coin in coins], outputs)


def mine(source: RegtestSource, *transactions: Any, payout: WalletKey | None = None) -> str:
    """Mine one block with `transactions` on the tip (coinbase to a throwaway key)."""
    return mine_block(
        source, payout_script=(payout or WalletKey("reconcile filler")).p2wpkh_script, transactions=list(transactions)
    )


# In force before any test chain's blocks (the in-memory one stamps from the regtest genesis, 2011):
# detection judges a movement at its block's time.
SINCE_GENESIS = timedelta(days=365 * 20)
NO_DISPOSAL = {"type": "no_disposal", "params": {"allowed_reasons": ["return_to_victims"], "reference_required": True}}


def adopt_policy(rule: dict[str, Any], *, since: timedelta = timedelta(days=1)) -> None:
    """A perimeter policy with `rule`, in force `since` ago (drafted and approved by three policy admins)."""
    author, first, second = (make_user(name, "policy_admin") for name in ("pa", "pb", "pc"))
    version = policy_create_draft(
        name="Perimeter rule",
        scope=PolicyScope("perimeter"),
        rules=[rule],
        effective_from=timezone.now() - since,
        author=author,
    )
    policy_approve(version=version, approver=first)
    policy_approve(version=version, approver=second)


__all__ = [
    "FEE_SATS",
    "NO_DISPOSAL",
    "SINCE_GENESIS",
    "Coin",
    "Payer",
    "adopt_policy",
    "key_wallet",
    "mine",
    "pay",
    "txid_of",
]
