"""Fixtures for the API tests: one user and one token client per role, and books with history.

The books: an agency with two descriptor wallets and one single-address wallet (the address
of a test key, for proofs of reserves), funded through the transfer services at blocks
101..104 (with the verified headers the scanner would have stored), plus a pending proposal
and a draft policy version, so that every endpoint has something to show and to act on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from policy.models import PolicyVersion
from policy.services import policy_create_draft
from policy.types import PolicyScope
from reserve.custody.models import Agency, Wallet
from reserve.custody.services import agency_create, wallet_register
from reserve.reconciliation.models import BlockStatus, ChainBlock
from reserve.transfers.models import Transfer
from reserve.transfers.services import transfer_approve, transfer_confirm, transfer_create, transfer_propose
from tests.reserve.api.keys import SigningKey
from tests.users import make_user

ROLES = ("auditor", "operator", "approver", "policy_admin")
TPUB_A = (
    "tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M"
)
TPUB_B = (
    "tpubDDA3frU31t8hSUKpX7UmhvJuDGG1r7UNzx85fQ49Xa15ax6Yby2sLQYCwCDWgdXQeb4iK8EZGKwRHDdKZTgvpHNi5WeUQn5ZBpEFSnM8FkE"
)
EXTERNAL = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
SIGNING_KEY = SigningKey("custodian")
BTC = 100_000_000
LOCAL_ADDRESS = "127.0.0.1"


def block_hash(height: int) -> str:
    return hashlib.sha256(f"api test block {height}".encode()).hexdigest()


def block_time(height: int) -> datetime:
    return datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=height - 100)


def token_client(user: Any | None) -> APIClient:
    client = APIClient()
    if user is not None:
        _, token = AuthToken.objects.create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture(autouse=True)
def fresh_token_throttle() -> None:
    """The token endpoint's rate limit lives in Redis across tests: start each test with a clean count."""
    cache.delete(f"throttle_token_{LOCAL_ADDRESS}")


@pytest.fixture
def users(db: None) -> dict[str, Any]:
    """One user per role, plus a second approver and a second policy admin (the checkers)."""
    found = {role: make_user(f"{role}-1", role) for role in ROLES}
    found["approver2"] = make_user("approver-2", "approver")
    found["policy_admin2"] = make_user("policy_admin-2", "policy_admin")
    return found


@pytest.fixture
def clients(users: dict[str, Any]) -> dict[str, APIClient]:
    """anonymous plus one token client per role."""
    return {"anonymous": token_client(None)} | {role: token_client(users[role]) for role in ROLES}


def record_block(height: int) -> ChainBlock:
    return ChainBlock.objects.create(
        network="regtest",
        height=height,
        hash=block_hash(height),
        prev_hash=block_hash(height - 1),
        merkle_root=block_hash(-height),
        block_time_at=block_time(height),
        bits=0x207FFFFF,
        tx_count=1,
        size_bytes=250,
        status=BlockStatus.ACTIVE,
        verified_at=timezone.now(),
    )


def confirm(transfer: Transfer, height: int, label: str) -> Transfer:
    return transfer_confirm(
        transfer=transfer,
        txid=hashlib.sha256(f"api test tx {label}".encode()).hexdigest(),
        vout=0,
        block_height=height,
        block_hash=block_hash(height),
        occurred_at=block_time(height),
    )


@dataclass
class Custody:
    agency: Agency
    cold: Wallet
    vault: Wallet
    signer: Wallet


@dataclass
class Books(Custody):
    transfers: list[Transfer]
    pending: Transfer
    draft: PolicyVersion


def move(users: dict[str, Any], height: int, label: str, **fields: Any) -> Transfer:
    transfer = transfer_create(actor=users["operator"], **fields)
    transfer_propose(transfer=transfer, actor=users["operator"])
    transfer_approve(transfer=transfer, actor=users["approver"])
    transfer_approve(transfer=transfer, actor=users["approver2"])
    return confirm(transfer, height, label)


@pytest.fixture
def custody(users: dict[str, Any]) -> Custody:
    """An agency, two descriptor wallets and the signing key's wallet, and verified blocks 100..104."""
    operator = users["operator"]
    agency = agency_create(name="Treasury", kind="ministry", actor=operator)
    cold = wallet_register(
        name="cold-01",
        agency=agency,
        kind="cold",
        network="regtest",
        gap_limit=2,
        descriptors=[f"wpkh([73c5da0a/84h/1h/0h]{TPUB_A}/<0;1>/*)"],
        actor=operator,
    )
    vault = wallet_register(
        name="vault-02",
        agency=agency,
        kind="multisig",
        network="regtest",
        gap_limit=2,
        descriptors=[f"wpkh([b8688df1/84h/1h/0h]{TPUB_B}/<0;1>/*)"],
        actor=operator,
    )
    signer = wallet_register(
        name="signer-03",
        agency=agency,
        kind="cold",
        network="regtest",
        addresses=[SIGNING_KEY.p2pkh_address, SIGNING_KEY.p2wpkh_address],
        actor=operator,
    )
    for height in range(100, 105):
        record_block(height)
    return Custody(agency=agency, cold=cold, vault=vault, signer=signer)


@pytest.fixture
def books(users: dict[str, Any], custody: Custody) -> Books:
    """The custody funded at blocks 101..104, a pending outbound proposal and a draft policy version."""
    cold, vault, signer = custody.cold, custody.vault, custody.signer
    transfers = [
        move(
            users,
            101,
            "forfeit",
            direction="inbound",
            category="forfeiture",
            amount_sats=5 * BTC,
            destination_wallet=cold,
            provenance_reference="Order 7",
        ),
        move(
            users,
            102,
            "buy",
            direction="inbound",
            category="purchase",
            amount_sats=2 * BTC,
            destination_wallet=vault,
            provenance_reference="Contract 12",
        ),
        move(
            users,
            103,
            "consolidate",
            direction="internal",
            category="internal_consolidation",
            amount_sats=BTC,
            fee_sats=1_000,
            source_wallet=cold,
            destination_wallet=vault,
        ),
        move(
            users,
            104,
            "sign",
            direction="inbound",
            category="mining_reward",
            amount_sats=3 * BTC,
            destination_wallet=signer,
            provenance_reference="Site 3",
        ),
    ]
    pending = transfer_create(
        actor=users["operator"],
        direction="outbound",
        category="return_to_victims",
        amount_sats=BTC // 2,
        source_wallet=vault,
        external_address=EXTERNAL,
        provenance_reference="Order 9",
    )
    transfer_propose(transfer=pending, actor=users["operator"])
    draft = policy_create_draft(
        name="perimeter cap",
        scope=PolicyScope("perimeter"),
        rules=[{"type": "holdings_cap", "params": {"max_sats": 100 * BTC}}],
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
        author=users["policy_admin2"],
    )
    return Books(
        agency=custody.agency, cold=cold, vault=vault, signer=signer, transfers=transfers, pending=pending, draft=draft
    )
