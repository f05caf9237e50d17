"""manage.py seed_demo: demo agencies, regtest wallets, one user per role and a few transfers.

Idempotent: a second run finds everything in place and changes nothing (users keep their
passwords, transfers are found by idempotency key and only moved forward).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from reserve.common.amounts import btc_to_sats
from reserve.custody.models import Agency, AgencyKind, Wallet
from reserve.custody.services import agency_create, wallet_register
from reserve.transfers.models import Transfer, TransferStatus
from reserve.transfers.services import (
    transfer_approve,
    transfer_confirm,
    transfer_create,
    transfer_finalize,
    transfer_propose,
)

# Demo passwords, printed on every run; a real deployment creates its own users.
USERS = (
    ("operator", "operator", "demo-operator-pass"),
    ("approver1", "approver", "demo-approver1-pass"),
    ("approver2", "approver", "demo-approver2-pass"),
    ("policyadmin", "policy_admin", "demo-policyadmin-pass"),
    ("auditor", "auditor", "demo-auditor-pass"),
)
AGENCIES = (
    ("Ministry of Finance", AgencyKind.MINISTRY),
    ("Central Reserve Bank", AgencyKind.CENTRAL_BANK),
    ("National Police Asset Recovery", AgencyKind.LAW_ENFORCEMENT),
)
# Regtest account keys of the BIP39 test mnemonics (public parts only).
WALLETS = (
    (
        "treasury-cold-01",
        "Ministry of Finance",
        "cold",
        [
            "wpkh([73c5da0a/84h/1h/0h]tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M/<0;1>/*)"
        ],
    ),
    (
        "reserve-multisig-01",
        "Central Reserve Bank",
        "multisig",
        [
            "wsh(sortedmulti(2,"
            "[73c5da0a/48h/1h/0h/2h]tpubDFH9dgzveyD8zTbPUFuLrGmCydNvxehyNdUXKJAQN8x4aZ4j6UZqGfnqFrD4NqyaTVGKbvEW54tsvPTK2UoSbCC1PJY8iCNiwTL3RWZEheQ/<0;1>/*,"
            "[b8688df1/48h/1h/0h/2h]tpubDEfobrrtptRTbKf4gysDhoabneABDTAcdj3Vbn4XwPsLE2pmqpizSPRG6zHsbAMuiSgWmWPsYCLHTKTPpyrGJ5rAoTpKoQNZcxodiPf2tSJ/<0;1>/*,"
            "[3f635a63/48h/1h/0h/2h]tpubDFPtPArj4GzBEFHohegg1Xatrc1Fi9oSox5LzuSRX91miwQxuUrEpBxpvDRsmZYJKYFhgdK3UStsjC8JKXfUbMinjFqiEM4uNwzVaCaHpys/<0;1>/*))"
        ],
    ),
    (
        "seizure-hot-01",
        "National Police Asset Recovery",
        "hot",
        [
            "tr([3f635a63/86h/1h/0h]tpubDD4uFqwcQxcgHEhBFmoFbcLtEfSXw6bmLSeKeJHaqDtiXsvGRD6zCJ26HUxWp6ca6GAtNj6C3jyCGBAw2M9sW1bjiK1gFw6dckb6bKn8B3m/<0;1>/*)"
        ],
    ),
    (
        "mining-payout-01",
        "Ministry of Finance",
        "mining_payout",
        [
            "wpkh([b8688df1/84h/1h/0h]tpubDDA3frU31t8hSUKpX7UmhvJuDGG1r7UNzx85fQ49Xa15ax6Yby2sLQYCwCDWgdXQeb4iK8EZGKwRHDdKZTgvpHNi5WeUQn5ZBpEFSnM8FkE/<0;1>/*)"
        ],
    ),
)
ORDER: list[str] = [
    TransferStatus.DRAFT,
    TransferStatus.PENDING_APPROVAL,
    TransferStatus.APPROVED,
    TransferStatus.BROADCAST,
    TransferStatus.CONFIRMED,
    TransferStatus.FINAL,
]


def _fake_hash(label: str) -> str:
    # Deterministic regtest-looking ids, so a re-run finds the same values.
    return hashlib.sha256(label.encode()).hexdigest()


class Command(BaseCommand):
    help = "Create demo agencies, regtest wallets, users (one per role) and transfers; safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        users = self._users()
        operator = users["operator"]
        agencies = {agency.name: agency for agency in self._agencies(operator)}
        wallets = {wallet.name: wallet for wallet in self._wallets(operator, agencies)}
        self._transfers(users, wallets)
        self.stdout.write("Demo users (log in at /admin/):")
        for username, role, password in USERS:
            self.stdout.write(f"  {role:<13} {username:<12} password: {password}")

    def _users(self) -> dict[str, Any]:
        model = get_user_model()
        users = {}
        for username, role, password in USERS:
            user = model.objects.filter(username=username).first()
            if user is None:
                user = model.objects.create_user(username=username, password=password, is_staff=True)
            user.groups.add(Group.objects.get(name=role))
            users[username] = user
        return users

    def _agencies(self, operator: Any) -> list[Agency]:
        return [
            Agency.objects.filter(name=name).first() or agency_create(name=name, kind=kind, actor=operator)
            for name, kind in AGENCIES
        ]

    def _wallets(self, operator: Any, agencies: dict[str, Agency]) -> list[Wallet]:
        wallets = []
        for name, agency, kind, descriptors in WALLETS:
            wallet = Wallet.objects.filter(name=name).first() or wallet_register(
                name=name,
                agency=agencies[agency],
                kind=kind,
                network="regtest",
                in_perimeter=True,
                birthday_height=0,
                gap_limit=20,
                descriptors=descriptors,
                actor=operator,
            )
            wallets.append(wallet)
        return wallets

    def _advance(self, transfer: Transfer, *, target: str, users: dict[str, Any], label: str, height: int) -> None:
        """Move a demo transfer forward to `target`, skipping the steps it has already taken."""
        occurred_at = datetime(2026, 1, 1, tzinfo=UTC).replace(hour=height % 24, minute=height % 60)
        steps = [
            (TransferStatus.PENDING_APPROVAL, lambda t: transfer_propose(transfer=t, actor=users["operator"])),
            (TransferStatus.APPROVED, lambda t: self._approve(t, users)),
            (
                TransferStatus.CONFIRMED,
                lambda t: transfer_confirm(
                    transfer=t,
                    txid=_fake_hash(f"{label}:tx"),
                    vout=0,
                    block_height=height,
                    block_hash=_fake_hash(f"{label}:block"),
                    occurred_at=occurred_at,
                ),
            ),
            (TransferStatus.FINAL, lambda t: transfer_finalize(transfer=t, tip_height=height + 5)),
        ]
        for status, step in steps:
            transfer.refresh_from_db()
            if ORDER.index(status) > ORDER.index(target):
                return
            if ORDER.index(transfer.status) < ORDER.index(status):
                step(transfer)

    def _approve(self, transfer: Transfer, users: dict[str, Any]) -> None:
        for name in ("approver1", "approver2"):
            transfer.refresh_from_db()
            if (
                transfer.status == TransferStatus.PENDING_APPROVAL
                and not transfer.approvals.filter(approver=users[name]).exists()
            ):
                transfer_approve(transfer=transfer, actor=users[name], comment="demo approval")

    def _transfers(self, users: dict[str, Any], wallets: dict[str, Wallet]) -> None:
        plans: list[tuple[str, str, int, dict[str, Any]]] = [
            (
                "demo-forfeiture",
                "final",
                101,
                {
                    "direction": "inbound",
                    "category": "forfeiture",
                    "amount_sats": btc_to_sats(value="2.5", field="amount"),
                    "destination_wallet": wallets["seizure-hot-01"],
                    "provenance_reference": "Final forfeiture order 2025-CR-0042",
                },
            ),
            (
                "demo-mining",
                "confirmed",
                102,
                {
                    "direction": "inbound",
                    "category": "mining_reward",
                    "amount_sats": btc_to_sats(value="3.125", field="amount"),
                    "destination_wallet": wallets["mining-payout-01"],
                    "provenance_reference": "Geothermal site Tecapa, block reward",
                },
            ),
            (
                "demo-consolidation",
                "approved",
                0,
                {
                    "direction": "internal",
                    "category": "internal_consolidation",
                    "amount_sats": btc_to_sats(value="1", field="amount"),
                    "fee_sats": 2_000,
                    "source_wallet": wallets["seizure-hot-01"],
                    "destination_wallet": wallets["reserve-multisig-01"],
                },
            ),
            (
                "demo-restitution",
                "pending_approval",
                0,
                {
                    "direction": "outbound",
                    "category": "return_to_victims",
                    "amount_sats": btc_to_sats(value="0.1", field="amount"),
                    "fee_sats": 1_500,
                    "source_wallet": wallets["seizure-hot-01"],
                    "external_address": "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
                    "provenance_reference": "Restitution order 2025-CV-0107",
                },
            ),
        ]
        for label, target, height, fields in plans:
            transfer = transfer_create(actor=users["operator"], idempotency_key=f"seed-demo:{label}", **fields)
            self._advance(transfer, target=target, users=users, label=label, height=height)
