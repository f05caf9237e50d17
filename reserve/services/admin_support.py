"""Services the admin needs beyond the domain's: the dry run of a transfer proposal (validated
as the operator's draft would be, then rolled back), and the audit of account and role changes
made in the admin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from policy.types import Decision
from reserve.audit import audit_record
from reserve.models import AuditEvent
from reserve.selectors import transfer_policy_preview
from reserve.services.transfers import transfer_create


class _DryRunDone(Exception):
    def __init__(self, decision: Decision) -> None:
        super().__init__("dry run finished")
        self.decision = decision


def transfer_dry_run(*, actor: Any, **fields: Any) -> Decision:
    """Validate a proposal exactly as `transfer_create` does and return the policy's decision on
    it, then roll back: nothing is stored, no lock outlives the call. `fields` are
    `transfer_create`'s keyword arguments; its errors (naming the field) propagate."""
    try:
        with transaction.atomic():
            draft = transfer_create(actor=actor, **fields)
            raise _DryRunDone(transfer_policy_preview(transfer=draft))
    except _DryRunDone as done:
        return done.decision


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
