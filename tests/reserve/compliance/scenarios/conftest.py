"""Fixtures for the end-to-end policy scenarios: users in the real role groups, policies
drafted and approved through the policy services, wallets, historical holdings, a clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from django.utils import timezone

from policy.errors import PolicyDenied
from policy.models import PolicyEvaluation, PolicyVersion
from policy.services import policy_approve, policy_create_draft
from policy.types import PolicyScope
from reserve.custody.models import Agency, Wallet
from reserve.custody.services import agency_create
from reserve.transfers.models import Transfer
from reserve.transfers.services import transfer_approve, transfer_confirm, transfer_create, transfer_propose
from tests.reserve.approved_imports import import_transfers
from tests.reserve.conftest import TPUB_A, TPUB_B, fake_hash, register
from tests.users import make_user

BTC = 100_000_000


@dataclass(frozen=True)
class People:
    operator: Any
    approvers: tuple[Any, Any, Any]
    policy_admins: tuple[Any, Any, Any]


@pytest.fixture
def people(db: None) -> People:
    return People(
        operator=make_user("olga", "operator"),
        approvers=(make_user("ana", "approver"), make_user("bruno", "approver"), make_user("carla", "approver")),
        policy_admins=(
            make_user("paula", "policy_admin"),
            make_user("pedro", "policy_admin"),
            make_user("priya", "policy_admin"),
        ),
    )


@pytest.fixture
def agency(people: People) -> Agency:
    return agency_create(name="National Bitcoin Office", kind="ministry", actor=people.operator)


@pytest.fixture
def cold(people: People, agency: Agency) -> Wallet:
    return register(people.operator, agency, "cold-01", TPUB_A)


@pytest.fixture
def vault(people: People, agency: Agency) -> Wallet:
    return register(people.operator, agency, "vault-02", TPUB_B, fingerprint="b8688df1", kind="multisig")


def activate_policy(
    people: People,
    *,
    name: str,
    scope: PolicyScope,
    rules: list[dict[str, Any]],
    effective_from: datetime,
    effective_to: datetime | None = None,
) -> PolicyVersion:
    """Drafted by one policy_admin and approved by the two others, as the issue requires."""
    author, first, second = people.policy_admins
    version = policy_create_draft(
        name=name, scope=scope, rules=rules, effective_from=effective_from, effective_to=effective_to, author=author
    )
    policy_approve(version=version, approver=first)
    version = policy_approve(version=version, approver=second)
    assert version.status == PolicyVersion.Status.ACTIVE
    return version


def import_holdings(people: People, lines: list[tuple[datetime, Wallet, int, int]]) -> None:
    """Settled inbound forfeitures (time, wallet, sats, block height) through the historical import."""
    rows = ["occurred_at,direction,category,amount_btc,txid,block_height,destination_wallet,provenance_reference"]
    for occurred_at, wallet, sats, height in lines:
        whole, fraction = divmod(sats, BTC)
        rows.append(
            f"{occurred_at.isoformat()},inbound,forfeiture,{whole}.{fraction:08d},{fake_hash(f'import:{height}')},"
            f"{height},{wallet.name},Historical seizure {height}"
        )
    created = import_transfers(text="\n".join(rows) + "\n", proposer=people.operator)
    assert len(created) == len(lines)


def propose(people: People, **fields: Any) -> Transfer:
    """Draft and propose. A proposal the policy denies is refused: it stays a draft, and the
    stored evaluation (`last_evaluation`) says why."""
    transfer = transfer_create(actor=people.operator, **fields)
    try:
        return transfer_propose(transfer=transfer, actor=people.operator)
    except PolicyDenied:
        return Transfer.objects.get(pk=transfer.pk)


def last_evaluation(transfer: Transfer) -> PolicyEvaluation:
    """The policy's last stored judgement of the transfer, at whichever gate."""
    found = (
        PolicyEvaluation.objects.filter(subject_type="reserve.transfer", subject_id=str(transfer.pk))
        .order_by("-created_at", "-id")
        .first()
    )
    assert found is not None, f"transfer #{transfer.pk} was never judged"
    return found


def approve(people: People, transfer: Transfer, count: int = 2) -> Transfer:
    for approver in people.approvers[:count]:
        transfer = transfer_approve(transfer=transfer, actor=approver)
    return transfer


def confirm(transfer: Transfer, *, label: str, height: int, at: datetime, **extra: Any) -> Transfer:
    return transfer_confirm(
        transfer=transfer,
        txid=fake_hash(f"tx:{label}"),
        vout=0,
        block_height=height,
        block_hash=fake_hash(f"block:{height}"),
        occurred_at=at,
        **extra,
    )


def preview_outcome(transfer: Transfer) -> str:
    """The outcome of the transfer's last gate (proposal or approval), as stored."""
    return str(last_evaluation(transfer).outcome)


@dataclass
class Clock:
    """What `django.utils.timezone.now()` answers, so that gates are judged at a chosen second."""

    now: datetime

    def set(self, moment: datetime) -> None:
        self.now = moment


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    current = Clock(timezone.now().replace(microsecond=0))
    monkeypatch.setattr(timezone, "now", lambda: current.now)
    yield current
