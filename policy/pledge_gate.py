"""The gate a pledge or liability passes at its approval: every rule in force over the scopes
its wallet counts in is asked `Rule.pledge_refusal` (the encumbrance cap, no bitcoin-linked
liabilities), under the scopes' locks so two approvals against one cap are judged in turn."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils import timezone

from policy.facts import PolicyFacts
from policy.selectors import policy_scopes_governed, version_rules, versions_in_force
from policy.services import lock_scopes
from policy.types import PolicyScope


def pledge_refusals(*, scopes: Sequence[PolicyScope], kind: str, amount_sats: int, facts: PolicyFacts) -> list[str]:
    """Why approving the record would break a rule in force now, one reason per rule (none: it may
    be approved). Must run inside the approval's transaction: the scope locks are held to its commit."""
    lock_scopes(policy_scopes_governed(scopes=scopes))
    reasons = []
    for version in versions_in_force(scopes=scopes, at=timezone.now()):
        judged = version_rules(version)
        for rule in judged.rules:
            reason = rule.pledge_refusal(scope=judged.scope, kind=kind, amount_sats=amount_sats, facts=facts)
            if reason:
                reasons.append(f"{judged.name}: {reason}")
    return reasons
