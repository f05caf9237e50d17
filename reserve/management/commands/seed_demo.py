"""manage.py seed_demo: the demo reserve on the regtest chain that `make run` starts.

Users (one per role, three policy administrators), three agencies with their wallets, the three
scenarios of the mission as approved policies, USD and PKR quotes for the whole history, and a
history of real transactions in blocks the demo builds (funded by mining, spent by keys the demo
holds). Idempotent: a second run finds everything in place and changes nothing.

After it, one reconciliation leaves every wallet's books equal to its chain balance, except for
the one movement staged on purpose: a donation nobody proposed to a perimeter wallet under the
no-net-accumulation ceiling (its discrepancy and its breach are what the dashboard explains).
An approved second tranche from treasury-cold-01 (P2WPKH, the demo holds its key) has its unsigned
PSBT built, so the transfer's signing panel offers it for download.
Without a regtest node (BITCOIN_RPC_URL unset) only users, agencies, wallets and policies are seeded.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from policy.models import PolicyVersion
from policy.services import policy_approve, policy_create_draft
from policy.types import PolicyScope
from reserve.chain.rpc import RpcChainSource
from reserve.custody.models import Agency, AgencyKind, Wallet, WatchedScript
from reserve.custody.services import agency_create, wallet_register
from reserve.imports.models import ImportBatch, ImportKind, ImportStatus
from reserve.imports.services import import_approve, import_propose
from reserve.management.demo_chain import NOBODY_ADDRESS, DemoChain, DemoKeys, pay
from reserve.transfers.models import Transfer, TransferStatus
from reserve.transfers.services import transfer_approve, transfer_create, transfer_mark_broadcast, transfer_propose
from reserve.transfers.signing import transfer_psbt_build

BTC = 100_000_000
FEE_SATS = 2_000
# Demo passwords, printed on every run; a real deployment creates its own users.
USERS = (
    ("operator", "operator", "demo-operator-pass"),
    ("approver1", "approver", "demo-approver1-pass"),
    ("approver2", "approver", "demo-approver2-pass"),
    ("policyadmin1", "policy_admin", "demo-policyadmin1-pass"),
    ("policyadmin2", "policy_admin", "demo-policyadmin2-pass"),
    ("policyadmin3", "policy_admin", "demo-policyadmin3-pass"),
    ("auditor", "auditor", "demo-auditor-pass"),
)
EL_SALVADOR = "Central Reserve Bank (El Salvador-like)"
UNITED_STATES = "Asset Forfeiture Office (US-like)"
PAKISTAN = "Mining Authority (Pakistan-like)"
AGENCIES = (
    (EL_SALVADOR, AgencyKind.CENTRAL_BANK),
    (UNITED_STATES, AgencyKind.LAW_ENFORCEMENT),
    (PAKISTAN, AgencyKind.RESERVE_FUND),
)

# The history, by block height (one block every six hours, see demo_chain).
MINING_MATURE_HEIGHT = 300  # a coinbase to mining-payout-01, long mature
SEGWIT_ACTIVE_HEIGHT = 432  # bcoin regtest: three BIP9 windows of 144 blocks, signalled by the demo's blocks
PURCHASE_HEIGHT = 440
FORFEITURE_HEIGHTS = (441, 442)
HISTORY_HEIGHT = 446  # the books are reconciled here, and the El Salvador-like ceiling starts
CONSOLIDATION_HEIGHT = 450
MINING_IMMATURE_HEIGHT = 470  # fewer than 100 blocks deep at the tip: an immature coinbase
DONATION_HEIGHT = 474
TIP_HEIGHT = 480
# Which mature miner coinbase pays which inflow (50 BTC each, heights below the first halving).
MINER_COINBASE = {"purchase": 1, "forfeiture-1": 2, "forfeiture-2": 3, "donation": 4}

# Regtest account keys of the BIP39 test mnemonics (public parts only): name, agency, kind,
# descriptors, birthday height (just before its first movement, so a scan starts there).
WALLETS = (
    (
        "treasury-cold-01",
        EL_SALVADOR,
        "cold",
        [
            "wpkh([73c5da0a/84h/1h/0h]tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M/<0;1>/*)"
        ],
        PURCHASE_HEIGHT - 1,
    ),
    (
        "reserve-multisig-01",
        EL_SALVADOR,
        "multisig",
        [
            "wsh(sortedmulti(2,"
            "[73c5da0a/48h/1h/0h/2h]tpubDFH9dgzveyD8zTbPUFuLrGmCydNvxehyNdUXKJAQN8x4aZ4j6UZqGfnqFrD4NqyaTVGKbvEW54tsvPTK2UoSbCC1PJY8iCNiwTL3RWZEheQ/<0;1>/*,"
            "[b8688df1/48h/1h/0h/2h]tpubDEfobrrtptRTbKf4gysDhoabneABDTAcdj3Vbn4XwPsLE2pmqpizSPRG6zHsbAMuiSgWmWPsYCLHTKTPpyrGJ5rAoTpKoQNZcxodiPf2tSJ/<0;1>/*,"
            "[3f635a63/48h/1h/0h/2h]tpubDFPtPArj4GzBEFHohegg1Xatrc1Fi9oSox5LzuSRX91miwQxuUrEpBxpvDRsmZYJKYFhgdK3UStsjC8JKXfUbMinjFqiEM4uNwzVaCaHpys/<0;1>/*))"
        ],
        CONSOLIDATION_HEIGHT - 1,
    ),
    (
        "seizure-hot-01",
        UNITED_STATES,
        "hot",
        [
            "tr([3f635a63/86h/1h/0h]tpubDD4uFqwcQxcgHEhBFmoFbcLtEfSXw6bmLSeKeJHaqDtiXsvGRD6zCJ26HUxWp6ca6GAtNj6C3jyCGBAw2M9sW1bjiK1gFw6dckb6bKn8B3m/<0;1>/*)"
        ],
        FORFEITURE_HEIGHTS[0] - 1,
    ),
    (
        "mining-payout-01",
        PAKISTAN,
        "mining_payout",
        [
            "wpkh([b8688df1/84h/1h/0h]tpubDDA3frU31t8hSUKpX7UmhvJuDGG1r7UNzx85fQ49Xa15ax6Yby2sLQYCwCDWgdXQeb4iK8EZGKwRHDdKZTgvpHNi5WeUQn5ZBpEFSnM8FkE/<0;1>/*)"
        ],
        MINING_MATURE_HEIGHT - 1,
    ),
)
COURT_ORDER = "Final forfeiture order 1:25-cr-00042 (S.D.N.Y.)"
SECOND_COURT_ORDER = "Final forfeiture order 1:26-cr-00113 (D.D.C.)"
RESTITUTION_ORDER = "Restitution order 1:25-cv-00107, schedule A"
MINING_SITE = "Mining site Tarbela-2 (hydro), block {height}"
PAKISTAN_CAP_SATS = 25 * BTC
# The second tranche into the vault waits for the treasury's signature: its PSBT is built at this
# rate, so the admin's signing panel offers it for download (bcoin 1.0.2 relays no taproot spend,
# so the demo's PSBT spends the P2WPKH treasury wallet, whose key the demo holds).
TRANCHE_SATS = BTC
TRANCHE_FEE_RATE_SAT_PER_VB = 2


def _script(wallet: Wallet, chain: int, index: int) -> bytes:
    return bytes(WatchedScript.objects.get(wallet=wallet, chain=chain, index=index).script_pubkey)


class Command(BaseCommand):
    help = "Create the demo reserve (users, agencies, wallets, policies, quotes, a regtest history); safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        users = self._users()
        agencies = {agency.name: agency for agency in self._agencies(users["operator"])}
        wallets = {wallet.name: wallet for wallet in self._wallets(users["operator"], agencies)}
        if settings.BITCOIN_NETWORK == "regtest" and settings.BITCOIN_RPC_URL:
            with RpcChainSource.from_settings() as source:
                self._history(source, users=users, agencies=agencies, wallets=wallets)
        else:
            self.stdout.write("no regtest node (BITCOIN_RPC_URL): no chain history, quotes or policies seeded")
        self.stdout.write("Demo users (log in at /admin/):")
        for username, role, password in USERS:
            self.stdout.write(f"  {role:<13} {username:<13} password: {password}")

    # ---- people and wallets --------------------------------------------------------------------

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
        for name, agency, kind, descriptors, birthday_height in WALLETS:
            wallet = Wallet.objects.filter(name=name).first() or wallet_register(
                name=name,
                agency=agencies[agency],
                kind=kind,
                network="regtest",
                in_perimeter=True,
                birthday_height=birthday_height,
                gap_limit=20,
                descriptors=descriptors,
                actor=operator,
            )
            wallets.append(wallet)
        return wallets

    # ---- the chain and what the books make of it -----------------------------------------------

    def _history(
        self, source: RpcChainSource, *, users: dict[str, Any], agencies: dict[str, Agency], wallets: dict[str, Wallet]
    ) -> None:
        chain = DemoChain(source, tip_height_planned=TIP_HEIGHT)
        keys = DemoKeys()
        if chain.tip_height >= TIP_HEIGHT:
            self.stdout.write(f"continuing the demo chain at height {chain.tip_height}")
        elif Transfer.objects.filter(idempotency_key__startswith="seed-demo:").exists() and chain.tip_height == 0:
            raise CommandError("the database has the demo's history but the node's chain is new: `make clean-data`")
        self._quotes(chain, users)
        plans = self._policy_plans(chain, agencies, wallets)
        # The US-like and Pakistan-like rules govern their reserves from before the first block.
        for plan in plans[1:]:
            self._policy(plan, users)
        miner = keys.miner_script
        cold, multisig = wallets["treasury-cold-01"], wallets["reserve-multisig-01"]
        seizure, mining = wallets["seizure-hot-01"], wallets["mining-payout-01"]

        # History up to HISTORY_HEIGHT: inflows proposed and approved, then mined.
        inflows = [
            ("purchase", cold, (0, 0), 12 * BTC, "purchase", "Purchase contract BCR-2025-07 (OTC desk)"),
            ("forfeiture-1", seizure, (0, 0), 5 * BTC // 2, "forfeiture", COURT_ORDER),
            ("forfeiture-2", seizure, (0, 1), 3 * BTC // 4, "forfeiture", SECOND_COURT_ORDER),
        ]
        for label, wallet, _, amount, category, reference in inflows:
            self._transfer(
                label,
                users,
                target=TransferStatus.APPROVED,
                direction="inbound",
                category=category,
                amount_sats=amount,
                destination_wallet=wallet,
                provenance_reference=reference,
            )
        for height in (MINING_MATURE_HEIGHT, MINING_IMMATURE_HEIGHT):
            self._transfer(
                f"mining-{height}",
                users,
                target=TransferStatus.APPROVED,
                direction="inbound",
                category="mining_reward",
                amount_sats=chain.coinbase_value(height),
                destination_wallet=mining,
                provenance_reference=MINING_SITE.format(height=height),
            )
        if chain.tip_height < HISTORY_HEIGHT:
            chain.mine_to(MINING_MATURE_HEIGHT - 1, payout_script=miner)
            chain.mine_to(MINING_MATURE_HEIGHT, payout_script=_script(mining, 0, 0))
            chain.mine_to(PURCHASE_HEIGHT - 1, payout_script=miner)
            for (label, wallet, (branch, index), amount, _, _), height in zip(
                inflows, (PURCHASE_HEIGHT, *FORFEITURE_HEIGHTS), strict=True
            ):
                payment = pay(
                    key=keys.miner,
                    spent=chain.coinbase_outpoint(MINER_COINBASE[label]),
                    outputs=[(_script(wallet, branch, index), amount)],
                    change_script=miner,
                    fee_sats=FEE_SATS,
                )
                chain.mine_to(height - 1, payout_script=miner)
                chain.mine(payout_script=miner, transactions=[payment])
            chain.mine_to(HISTORY_HEIGHT, payout_script=miner)

        # The books learn the history, so the wallets can pay what is proposed next.
        consolidation = self._transfer(
            "consolidation",
            users,
            target=TransferStatus.DRAFT,
            direction="internal",
            category="internal_consolidation",
            amount_sats=10 * BTC,
            fee_sats=FEE_SATS,
            source_wallet=cold,
            destination_wallet=multisig,
        )
        if consolidation.status == TransferStatus.DRAFT:
            for wallet in (cold, seizure, mining):
                call_command("reconcile", wallet=wallet.name, stdout=self.stdout)
        # The El Salvador-like ceiling holds from the end of that history: the purchase came before it.
        self._policy(plans[0], users)
        consolidation = self._advance(consolidation, target=TransferStatus.APPROVED, users=users)
        # A proposal waiting for the approvers: restitution to victims, the US-like reserve's one permitted outflow.
        self._transfer(
            "restitution",
            users,
            target=TransferStatus.PENDING_APPROVAL,
            direction="outbound",
            category="return_to_victims",
            amount_sats=BTC // 10,
            fee_sats=FEE_SATS,
            source_wallet=seizure,
            external_address=NOBODY_ADDRESS,  # nobody's wallet: the victims' restitution address
            provenance_reference=RESTITUTION_ORDER,
        )

        # Then the consolidation, signed by the treasury's key, and booked by the paying wallet at
        # once (the receiving wallet leaves it to the payer, so the next run finds both agreeing).
        if chain.tip_height < CONSOLIDATION_HEIGHT:
            spend = pay(
                key=keys.treasury(0, 0),
                spent=(chain.outpoint(chain.txid_at(PURCHASE_HEIGHT, 1), 0), 12 * BTC),
                outputs=[(_script(multisig, 0, 0), 10 * BTC)],
                change_script=_script(cold, 1, 0),
                fee_sats=FEE_SATS,
            )
            chain.mine_to(CONSOLIDATION_HEIGHT - 1, payout_script=miner)
            chain.mine(payout_script=miner, transactions=[spend])
        if consolidation.status == TransferStatus.APPROVED:
            consolidation = transfer_mark_broadcast(
                transfer=consolidation, actor=users["operator"], txid=chain.txid_at(CONSOLIDATION_HEIGHT, 1)
            )
        if consolidation.status == TransferStatus.BROADCAST:
            call_command("reconcile", wallet=cold.name, stdout=self.stdout)

        # Last, for the next reconciliation: a young coinbase to the mining site, and the staged donation.
        if chain.tip_height < TIP_HEIGHT:
            chain.mine_to(MINING_IMMATURE_HEIGHT - 1, payout_script=miner)
            chain.mine(payout_script=_script(mining, 0, 1))
            donation = pay(
                key=keys.miner,
                spent=chain.coinbase_outpoint(MINER_COINBASE["donation"]),
                outputs=[(_script(cold, 0, 1), BTC // 2)],
                change_script=miner,
                fee_sats=FEE_SATS,
            )
            chain.mine_to(DONATION_HEIGHT - 1, payout_script=miner)
            chain.mine(payout_script=miner, transactions=[donation])
            chain.mine_to(TIP_HEIGHT, payout_script=miner)
            self.stdout.write(f"built the demo chain to height {TIP_HEIGHT} (blocks from {chain.time_at(1):%Y-%m-%d})")

        # An approved transfer ready to sign: its unsigned PSBT spends the consolidation's change.
        tranche = self._transfer(
            "second-tranche",
            users,
            target=TransferStatus.APPROVED,
            direction="internal",
            category="internal_consolidation",
            amount_sats=TRANCHE_SATS,
            fee_sats=FEE_SATS,
            source_wallet=cold,
            destination_wallet=multisig,
        )
        if tranche.status == TransferStatus.APPROVED:
            transfer_psbt_build(
                transfer=tranche,
                actor=users["operator"],
                source=source,
                fee_rate_sat_per_vb=TRANCHE_FEE_RATE_SAT_PER_VB,
            )

    def _transfer(self, label: str, users: dict[str, Any], *, target: str, **fields: Any) -> Transfer:
        transfer = transfer_create(actor=users["operator"], idempotency_key=f"seed-demo:{label}", **fields)
        return self._advance(transfer, target=target, users=users)

    def _advance(self, transfer: Transfer, *, target: str, users: dict[str, Any]) -> Transfer:
        """Move a demo transfer forward to `target` (draft, pending_approval or approved), skipping
        the steps it has already taken."""
        if target != TransferStatus.DRAFT and transfer.status == TransferStatus.DRAFT:
            transfer = transfer_propose(transfer=transfer, actor=users["operator"])
        if target == TransferStatus.APPROVED:
            for name in ("approver1", "approver2"):
                transfer.refresh_from_db()
                if (
                    transfer.status == TransferStatus.PENDING_APPROVAL
                    and not transfer.approvals.filter(approver=users[name]).exists()
                ):
                    transfer = transfer_approve(transfer=transfer, actor=users[name], comment="demo approval")
        transfer.refresh_from_db()
        return transfer

    def _quotes(self, chain: DemoChain, users: dict[str, Any]) -> None:
        """Weekly USD and PKR quotes from a week before the first block to now (illustrative prices)."""
        lines = ["time,currency,price,source"]
        start = chain.time_at(0) - timedelta(days=7)
        weeks = (chain.time_at(TIP_HEIGHT) + timedelta(days=7) - start).days // 7 + 1
        for week in range(weeks):
            at = start + timedelta(days=7 * week)
            usd = Decimal(60_000 + 750 * week + (week % 3) * 400)
            lines.append(f"{at.isoformat()},USD,{usd:.2f},demo exchange (illustrative)")
            lines.append(f"{at.isoformat()},PKR,{usd * 280:.2f},demo exchange (illustrative)")
        text = "\n".join(lines) + "\n"
        file_sha256 = hashlib.sha256(text.encode()).hexdigest()
        batch = ImportBatch.objects.filter(kind=ImportKind.PRICES, file_sha256=file_sha256).first() or import_propose(
            kind=ImportKind.PRICES, data=text, actor=users["operator"], filename="demo-prices.csv"
        )
        for name in ("approver1", "approver2"):
            batch.refresh_from_db()
            if (
                batch.status == ImportStatus.PENDING_APPROVAL
                and not batch.approvals.filter(approver=users[name]).exists()
            ):
                import_approve(batch=batch, actor=users[name], file_sha256=file_sha256)

    def _policy_plans(
        self, chain: DemoChain, agencies: dict[str, Agency], wallets: dict[str, Wallet]
    ) -> list[tuple[str, PolicyScope, list[dict[str, Any]], datetime, str, str]]:
        """The three scenarios: name, scope, rules, effective from, author (a policy administrator), comment."""
        since = chain.time_at(0) - timedelta(days=1)
        return [
            (
                "El Salvador-like: no net accumulation",
                PolicyScope("agency", agencies[EL_SALVADOR].pk),
                [{"type": "no_net_accumulation", "params": {"baseline_height": HISTORY_HEIGHT}}],
                chain.time_at(HISTORY_HEIGHT),
                "policyadmin1",
                "IMF programme: holdings may not grow above the level at the baseline; consolidations are neutral",
            ),
            (
                "US-like: forfeiture-only reserve, no sale",
                PolicyScope("agency", agencies[UNITED_STATES].pk),
                [
                    {
                        "type": "allowed_sources",
                        "params": {"categories": ["forfeiture"], "reference_required": ["forfeiture"]},
                    },
                    {
                        "type": "no_disposal",
                        "params": {"allowed_reasons": ["return_to_victims"], "reference_required": True},
                    },
                ],
                since,
                "policyadmin2",
                "EO 14233: funded by final forfeitures only; leaves only to return it to victims under a court order",
            ),
            (
                "Pakistan-like: mining site, no sale, cap",
                PolicyScope("wallet", wallets["mining-payout-01"].pk),
                [
                    {
                        "type": "allowed_sources",
                        "params": {"categories": ["mining_reward"], "reference_required": ["mining_reward"]},
                    },
                    {"type": "no_disposal", "params": {"allowed_reasons": []}},
                    {"type": "holdings_cap", "params": {"max_sats": PAKISTAN_CAP_SATS}},
                ],
                since,
                "policyadmin3",
                "mining rewards with their site reference; never sold; at most 25 BTC",
            ),
        ]

    def _policy(
        self, plan: tuple[str, PolicyScope, list[dict[str, Any]], datetime, str, str], users: dict[str, Any]
    ) -> None:
        """Drafted by its author, approved by the two other policy administrators."""
        name, scope, rules, effective_from, author, comment = plan
        version = PolicyVersion.objects.filter(policy__name=name).order_by("version").first() or (
            policy_create_draft(
                name=name,
                scope=scope,
                rules=rules,
                effective_from=effective_from,
                author=users[author],
                comment=comment,
            )
        )
        for approver in ("policyadmin1", "policyadmin2", "policyadmin3"):
            version.refresh_from_db()
            if (
                approver != author
                and version.status == PolicyVersion.Status.DRAFT
                and not version.approvals.filter(approver=users[approver]).exists()
            ):
                policy_approve(version=version, approver=users[approver], comment="demo approval")
