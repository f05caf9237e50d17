"""Roles are Django groups (created by migration 0003 with their permissions); services check the
permissions the groups carry, as the admin and the API do."""

from __future__ import annotations

from typing import Any

from config.errors import PermissionDenied

OPERATOR = "operator"
APPROVER = "approver"
POLICY_ADMIN = "policy_admin"
AUDITOR = "auditor"
ROLES = (OPERATOR, APPROVER, POLICY_ADMIN, AUDITOR)


def user_roles(user: Any) -> frozenset[str]:
    if user is None or not getattr(user, "is_authenticated", False):
        return frozenset()
    return frozenset(user.groups.filter(name__in=ROLES).values_list("name", flat=True))


def require_permission(user: Any, permission: str, *, action: str) -> None:
    """Refuse `action` unless `user` is an active account holding `reserve.<permission>`."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        raise PermissionDenied(f"{action}: an authenticated, active user is required")
    if not user.has_perm(f"reserve.{permission}"):
        raise PermissionDenied(f"{action}: {user.get_username()} lacks the permission reserve.{permission}")


def maker_checker_refusal(*, noun: str, decision: str, withdraw: str) -> PermissionDenied:
    """Maker-checker, in the words every proposal uses: its proposer never decides on it (approve
    or reject the `noun`); they may only withdraw it (`withdraw`, e.g. "cancel it")."""
    message = (
        f"the proposer of a {noun} can never approve it"
        if decision == "approve"
        else f"the proposer cannot decide on their own {noun}; {withdraw} instead"
    )
    return PermissionDenied(message, fields={"approver": ["is the proposer"]})
