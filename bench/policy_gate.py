"""The reserve's posting path for the posting bench: the policy's posting gate, then post_transaction.

`gated_post` does what `reserve.transfers.services.transfer_confirm` does around the ledger, in
the same order and the same atomic block: `policy_enforce(gate="posting")` (the scopes' advisory
locks, the versions in force, every rule judged against the books, the evaluation stored), then
`post_transaction`, committed together. The movement is an internal transfer between two
reserve wallets, so it posts the same two legs as the ledger-only bench; no Transfer row is
written (that bookkeeping is not the posting path being measured).

Every wallet has a policy of its own in force (a holdings cap and a rolling velocity limit on
what leaves it), so each posting locks and judges two scopes and the caps never refuse one. A
policy over the perimeter or an agency instead puts every posting under that scope's one lock,
by design (postings against one cap are judged in turn): that would measure the lock, not the
checks.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

CAP_SATS = 2 * 10**15  # the wallets are funded with 10**14 each; nothing the bench posts reaches the cap
VELOCITY_SATS = 10**15
CATEGORY = "internal_consolidation"


@dataclass(frozen=True)
class GatedWallet:
    wallet_id: int
    agency_id: int
    account: Any  # ledger.models.Account
    approvals: tuple[Any, ...]  # policy.types.ApprovalFact: the default quorum (2 approvers) met


def setup_gated_wallets(count: int, *, fund: Any) -> list[GatedWallet]:
    """`count` reserve wallets in one agency, each funded by `fund(account)` and governed by a policy
    of its own, and two approvers whose approvals meet the default quorum of each movement."""
    from bitcoin import segwit_addr
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from policy.services import policy_approve, policy_create_draft
    from policy.types import PolicyScope
    from reserve.custody.services import agency_create, wallet_register

    model = get_user_model()
    users = {}
    for name, role in (
        ("operator", "operator"),
        ("admin1", "policy_admin"),
        ("admin2", "policy_admin"),
        ("admin3", "policy_admin"),
        ("approver1", "approver"),
        ("approver2", "approver"),
    ):
        users[name] = model.objects.create_user(username=f"bench-{name}")  # no password: never a login
        users[name].groups.add(Group.objects.get(name=role))
    agency = agency_create(name="Bench agency", actor=users["operator"])
    for index in range(count):
        wallet = wallet_register(
            name=f"bench-gated-{index:03d}",
            agency=agency,
            kind="cold",
            network="regtest",
            # a watched address of its own (a hash, no key: nothing is ever paid to it)
            addresses=[segwit_addr.encode("bcrt", 0, hashlib.sha256(b"bench-gated %d" % index).digest()[:20])],
            actor=users["operator"],
        )
        fund(wallet.ledger_account)
        version = policy_create_draft(
            name=f"bench wallet {index:03d}",
            scope=PolicyScope("wallet", wallet.pk),
            rules=[
                {"type": "holdings_cap", "params": {"max_sats": CAP_SATS}},
                {
                    "type": "velocity_limit",
                    "params": {"max_sats": VELOCITY_SATS, "window_seconds": 86_400, "direction": "outbound"},
                },
            ],
            effective_from=datetime(2020, 1, 1, tzinfo=UTC),
            author=users["admin1"],
        )
        policy_approve(version=version, approver=users["admin2"])
        policy_approve(version=version, approver=users["admin3"])
    return gated_wallets()


def gated_wallets() -> list[GatedWallet]:
    """The wallets `setup_gated_wallets` made, read back (in a client process of the bench)."""
    from django.contrib.auth import get_user_model

    from policy.types import ApprovalFact
    from reserve.custody.models import Wallet

    approvers = get_user_model().objects.filter(username__startswith="bench-approver").order_by("pk")
    approvals = tuple(
        ApprovalFact(approver_id=user.pk, roles=frozenset({"approver"}), approved_at=user.date_joined)
        for user in approvers
    )
    return [
        GatedWallet(wallet_id=wallet.pk, agency_id=wallet.agency_id, account=wallet.ledger_account, approvals=approvals)
        for wallet in Wallet.objects.filter(name__startswith="bench-gated-").select_related("ledger_account")
    ]


def gated_post(rng: random.Random, wallets: list[GatedWallet], *, key: str, facts: Any) -> None:
    """One internal movement between two random wallets through the posting gate, as transfer_confirm posts."""
    from django.utils import timezone

    from ledger.services import EntrySpec, post_transaction
    from policy.services import policy_enforce, policy_gated_transaction
    from policy.types import ProposedChange

    source, target = rng.sample(wallets, 2)
    sats = rng.randint(1, 100_000)
    change = ProposedChange(
        direction="internal",
        category=CATEGORY,
        amount_sats=sats,
        at=timezone.now(),
        source_wallet_id=source.wallet_id,
        destination_wallet_id=target.wallet_id,
        source_agency_id=source.agency_id,
        destination_agency_id=target.agency_id,
        source_in_perimeter=True,
        destination_in_perimeter=True,
        proposer_id=None,
        approvals=source.approvals,
    )
    with policy_gated_transaction():
        policy_enforce(change=change, facts=facts, gate="posting")
        post_transaction(
            idempotency_key=key,
            entries=[
                EntrySpec(account=target.account, amount_sats=sats),
                EntrySpec(account=source.account, amount_sats=-sats),
            ],
            kind="bench_gated",
        )
