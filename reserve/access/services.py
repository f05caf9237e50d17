"""Writes about user accounts: the audit record of a change to an account's flags or roles."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reserve.audit.models import AuditEvent
from reserve.audit.services import audit_record

ACCOUNT_FIELDS = ("username", "is_active", "is_staff", "is_superuser")


def account_snapshot(values: Mapping[str, Any]) -> dict[str, Any]:
    """Who an account is and what it may do: its flags and role groups (from a user's fields or a
    form's initial data), as the audit trail records it."""
    groups = sorted(getattr(group, "name", str(group)) for group in values.get("groups", ()))
    return {name: values.get(name) for name in ACCOUNT_FIELDS} | {"groups": groups}


def account_change_record(*, actor: Any, user: Any, before: dict[str, Any] | None) -> AuditEvent | None:
    """Audit an account created or changed in the admin (roles decide who may move reserve
    bitcoin, so their changes belong in the trail); nothing when nothing that matters changed."""
    after = account_snapshot({name: getattr(user, name) for name in ACCOUNT_FIELDS} | {"groups": user.groups.all()})
    if before == after:
        return None
    action = "account.create" if before is None else "account.change"
    return audit_record(actor=actor, action=action, instance=user, before=before, after=after)
