"""Builders for policy tests: times, scopes, proposed changes and unsaved versions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from policy.rules import parse_rules
from policy.rules.base import VersionRules
from policy.types import ApprovalFact, PolicyScope, ProposedChange

BTC = 100_000_000
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PERIMETER = PolicyScope("perimeter")
COLD, HOT, OTHER_AGENCY_WALLET = 1, 2, 3
TREASURY, CENTRAL_BANK = 10, 20


def at(**delta: float) -> datetime:
    return T0 + timedelta(**delta)


def version(
    rules: list[dict[str, Any]],
    *,
    scope: PolicyScope = PERIMETER,
    effective_from: datetime = T0,
    effective_to: datetime | None = None,
    number: int = 1,
    policy_id: int = 1,
) -> VersionRules:
    return VersionRules(
        policy_id=policy_id,
        version_id=policy_id * 100 + number,
        version=number,
        name=f"policy {policy_id}",
        scope=scope,
        effective_from=effective_from,
        effective_to=effective_to,
        rules=parse_rules(rules, effective_from=effective_from),
    )


def inbound(
    amount_sats: int, *, category: str = "purchase", when: datetime | None = None, **extra: Any
) -> ProposedChange:
    fields: dict[str, Any] = {
        "direction": "inbound",
        "category": category,
        "amount_sats": amount_sats,
        "at": when or at(days=1),
        "destination_wallet_id": COLD,
        "destination_agency_id": TREASURY,
        "destination_in_perimeter": True,
        "proposer_id": 1,
    }
    return ProposedChange(**(fields | extra))


def outbound(
    amount_sats: int, *, category: str = "return_to_victims", when: datetime | None = None, **extra: Any
) -> ProposedChange:
    fields: dict[str, Any] = {
        "direction": "outbound",
        "category": category,
        "amount_sats": amount_sats,
        "fee_sats": 2_000,
        "at": when or at(days=1),
        "source_wallet_id": COLD,
        "source_agency_id": TREASURY,
        "source_in_perimeter": True,
        "external_address": "bc1qvictimsfund",
        "proposer_id": 1,
    }
    return ProposedChange(**(fields | extra))


def internal(amount_sats: int, *, fee_sats: int, when: datetime | None = None, **extra: Any) -> ProposedChange:
    fields: dict[str, Any] = {
        "direction": "internal",
        "category": "internal_consolidation",
        "amount_sats": amount_sats,
        "fee_sats": fee_sats,
        "at": when or at(days=1),
        "source_wallet_id": HOT,
        "destination_wallet_id": COLD,
        "source_agency_id": TREASURY,
        "destination_agency_id": TREASURY,
        "source_in_perimeter": True,
        "destination_in_perimeter": True,
        "proposer_id": 1,
    }
    return ProposedChange(**(fields | extra))


def approved_by(change: ProposedChange, *approver_ids: int, role: str = "approver") -> ProposedChange:
    approvals = tuple(ApprovalFact(approver_id, frozenset({role}), change.at) for approver_id in approver_ids)
    return replace(change, approvals=change.approvals + approvals)
