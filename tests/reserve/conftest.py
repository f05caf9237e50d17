"""Fixtures for the reserve tests: one user per role, an agency, regtest wallets, and helpers."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from reserve.custody.models import Agency, Wallet
from reserve.custody.services import agency_create, wallet_register
from reserve.transfers.models import Transfer
from reserve.transfers.services import transfer_record_observed

# Regtest account keys (m/84h/1h/0h, m/86h/1h/0h) of BIP39 test mnemonics: public parts only.
TPUB_A = (
    "tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M"
)
TPUB_B = (
    "tpubDDA3frU31t8hSUKpX7UmhvJuDGG1r7UNzx85fQ49Xa15ax6Yby2sLQYCwCDWgdXQeb4iK8EZGKwRHDdKZTgvpHNi5WeUQn5ZBpEFSnM8FkE"
)
TPUB_C = (
    "tpubDD4uFqwcQxcgHEhBFmoFbcLtEfSXw6bmLSeKeJHaqDtiXsvGRD6zCJ26HUxWp6ca6GAtNj6C3jyCGBAw2M9sW1bjiK1gFw6dckb6bKn8B3m"
)
REGTEST_EXTERNAL = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"


@pytest.fixture
def agency(operator: Any) -> Agency:
    return agency_create(name="Ministry of Finance", kind="ministry", actor=operator)


def register(
    operator: Any, agency: Agency, name: str, tpub: str, fingerprint: str = "73c5da0a", **extra: Any
) -> Wallet:
    return wallet_register(
        name=name,
        agency=agency,
        kind=extra.pop("kind", "cold"),
        network="regtest",
        gap_limit=extra.pop("gap_limit", 3),
        descriptors=[f"wpkh([{fingerprint}/84h/1h/0h]{tpub}/<0;1>/*)"],
        actor=operator,
        **extra,
    )


@pytest.fixture
def cold_wallet(operator: Any, agency: Agency) -> Wallet:
    return register(operator, agency, "cold-01", TPUB_A)


@pytest.fixture
def vault_wallet(operator: Any, agency: Agency) -> Wallet:
    return register(operator, agency, "vault-02", TPUB_B, fingerprint="b8688df1", kind="multisig")


def fake_hash(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def block_time(hour: int) -> datetime:
    return datetime(2026, 3, 1, hour, tzinfo=UTC)


def observed_inflow(wallet: Wallet, *, amount_sats: int, block_height: int = 200) -> Transfer:
    """An inflow nobody proposed, booked as the chain follower books one (category `other`)."""
    transfer, _ = transfer_record_observed(
        direction="inbound",
        amount_sats=amount_sats,
        txid="cd" * 32,
        vout=0,
        block_height=block_height,
        block_hash="ef" * 32,
        occurred_at=datetime(2026, 2, 1, tzinfo=UTC),
        destination_wallet=wallet,
    )
    return transfer
