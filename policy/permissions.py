"""Who may act on policies: the model permissions policy declares, checked by its services and
asked by every face over them. Which accounts hold them is the deployment's business (reserve
grants them to its role groups by migration); policy itself names no role."""

from __future__ import annotations

from typing import Any

# As `user.has_perm` takes them; the codenames are declared in the models' Meta.permissions.
DRAFT_VERSION = "policy.draft_policyversion"
APPROVE_VERSION = "policy.approve_policyversion"
RETIRE_POLICY = "policy.retire_policy"
RESOLVE_BREACH = "policy.resolve_policybreach"
POLICY_PERMISSIONS = (DRAFT_VERSION, APPROVE_VERSION, RETIRE_POLICY, RESOLVE_BREACH)


def user_may(user: Any, permission: str) -> bool:
    """An active account holding `permission` directly or through a group (superusers hold all)."""
    return bool(user is not None and getattr(user, "is_active", False) and user.has_perm(permission))
