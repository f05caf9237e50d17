"""Approvers are told when something waits for them (a transfer proposal, an import batch, a
policy version), and policy administrators when a breach opens: an e-mail to every active
holder of the deciding permission but the proposer, through Django's mail settings, and the
signed webhook (reserve/notifications/webhook.py) if APPROVER_WEBHOOK_URL is set. Both go
through the outbox in the proposal's (or breach's) own transaction, and their tasks retry a
failed delivery."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Model

from reserve.outbox.services import outbox_enqueue

EMAIL_TASK = "reserve.notify_email_task"
WEBHOOK_TASK = "reserve.notify_webhook_task"
PERMISSION_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _holders(permission: str) -> Any:
    return (
        get_user_model()
        .objects.with_perm(permission, backend=PERMISSION_BACKEND)
        .filter(is_active=True)
        .exclude(email="")
        .order_by("email")
    )


def approvers_notify(*, kind: str, instance: Model, summary: str, permission: str, proposer: Any) -> None:
    """Enqueue the e-mail and the webhook saying `instance` (a `kind`) waits for holders of `permission`."""
    approvers = _holders(permission).exclude(pk=proposer.pk)
    recipients = list(dict.fromkeys(approvers.values_list("email", flat=True)))
    subject = f"Waiting for your approval: {kind} {instance.pk}"
    if recipients:
        body = f"{summary}\n\nProposed by {proposer.get_username()}. Decide in the admin: {kind} {instance.pk}."
        outbox_enqueue(task_name=EMAIL_TASK, args=[subject, body, recipients])
    if settings.APPROVER_WEBHOOK_URL:
        payload = {
            "event": "approval.waiting",
            "kind": kind,
            "id": instance.pk,
            "summary": summary,
            "proposer": proposer.get_username(),
        }
        outbox_enqueue(task_name=WEBHOOK_TASK, args=[payload])


def policy_version_notify(*, version: Any, **_: Any) -> None:
    """The receiver of policy's `version_awaits_approval`."""
    approvers_notify(
        kind="policy version",
        instance=version,
        summary=(
            f"Policy {version.policy.name}, version {version.version} ({version.kind})"
            f" from {version.effective_from:%Y-%m-%d}"
        ),
        permission="policy.approve_policyversion",
        proposer=version.author,
    )


def category_notify(*, category: Any, **_: Any) -> None:
    """The receiver of policy's `category_awaits_approval`."""
    approvers_notify(
        kind="category",
        instance=category,
        summary=f"Category {category.code} ({category.kind}): {category.legal_reference}",
        permission="policy.approve_policyversion",
        proposer=category.author,
    )


def membership_notify(*, membership: Any, **_: Any) -> None:
    """The receiver of custody's `membership_awaits_approval`."""
    counted = "in the perimeter" if membership.in_perimeter else "outside the perimeter"
    approvers_notify(
        kind="wallet membership",
        instance=membership,
        summary=f"Wallet {membership.wallet.name}: held by {membership.agency.name}, {counted} ({membership.reason})",
        permission="reserve.approve_walletmembership",
        proposer=membership.proposed_by,
    )


def breach_notify(*, breach: Any) -> None:
    """Tell every policy administrator (holders of `policy.approve_policyversion`) that `breach` opened."""
    policy = breach.version.policy
    summary = f"Policy {policy.name}, version {breach.version.version}, rule {breach.rule_index}: {breach.reason}"
    recipients = list(dict.fromkeys(_holders("policy.approve_policyversion").values_list("email", flat=True)))
    if recipients:
        subject = f"Policy breach opened: {breach.rule_type} ({policy.name})"
        outbox_enqueue(task_name=EMAIL_TASK, args=[subject, f"{summary}\n\nBreach {breach.pk}.", recipients])
    if settings.APPROVER_WEBHOOK_URL:
        payload = {"event": "breach.opened", "kind": breach.rule_type, "id": breach.pk, "summary": summary}
        outbox_enqueue(task_name=WEBHOOK_TASK, args=[payload])
