"""Roles in the admin: auditors read everything and write nothing; the ledger, the audit trail
and stored evaluations are read-only even for superusers; each role gets only its own buttons."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from ledger.models import Account, JournalTransaction
from policy.models import PolicyEvaluation, PolicyVersion
from policy.permissions import APPROVE_VERSION, DRAFT_VERSION
from reserve.audit.models import AuditEvent
from reserve.custody.models import Agency, Wallet
from reserve.imports.models import ImportBatch
from reserve.transfers.models import Transfer, TransferStatus
from reserve.transfers.services import transfer_create, transfer_propose
from tests.reserve.admin.conftest import EXTERNAL, make_user

pytestmark = pytest.mark.django_db


def proposed(operator: Any, wallet: Wallet) -> Transfer:
    draft = transfer_create(
        actor=operator,
        direction="outbound",
        category="return_to_victims",
        amount_sats=10_000_000,
        fee_sats=1_000,
        source_wallet=wallet,
        external_address=EXTERNAL,
    )
    return transfer_propose(transfer=draft, actor=operator)


READ_PAGES = [
    "admin:index",
    "admin:reserve_wallet_changelist",
    "admin:reserve_agency_changelist",
    "admin:reserve_transfer_changelist",
    "admin:reserve_approval_changelist",
    "admin:reserve_pricequote_changelist",
    "admin:reserve_importbatch_changelist",
    "admin:reserve_auditevent_changelist",
    "admin:reserve_watchedscript_changelist",
    "admin:ledger_account_changelist",
    "admin:ledger_journaltransaction_changelist",
    "admin:ledger_entry_changelist",
    "admin:ledger_pendingtransaction_changelist",
    "admin:policy_policyversion_changelist",
    "admin:policy_policyevaluation_changelist",
    "admin:policy_policybreach_changelist",
]


def test_an_auditor_reads_every_page_and_every_write_is_refused(
    auditor: Any, operator: Any, funded_wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given
    transfer = proposed(operator, funded_wallet)
    client = signed_in(auditor)
    journal = JournalTransaction.objects.first()
    assert journal is not None
    batch = ImportBatch.objects.get()
    # when / then: every list and detail page opens
    for name in READ_PAGES:
        assert client.get(reverse(name)).status_code == 200, name
    for url in (
        reverse("admin:reserve_transfer_change", args=[transfer.pk]),
        reverse("admin:reserve_wallet_change", args=[funded_wallet.pk]),
        reverse("admin:ledger_journaltransaction_change", args=[journal.pk]),
        reverse("admin:reserve_importbatch_change", args=[batch.pk]),
        reverse("admin:reserve_auditevent_change", args=[AuditEvent.objects.first().pk]),  # type: ignore[union-attr]
        reverse("admin:policy_policyevaluation_change", args=[PolicyEvaluation.objects.first().pk]),  # type: ignore[union-attr]
    ):
        assert client.get(url).status_code == 200, url
    # ...and every write is a 403 that changes nothing
    events = AuditEvent.objects.count()
    writes = {
        reverse("admin:reserve_transfer_add"): {"direction": "inbound"},
        reverse("admin:reserve_transfer_approve", args=[transfer.pk]): {"comment": "ok"},
        reverse("admin:reserve_transfer_reject", args=[transfer.pk]): {"comment": "no"},
        reverse("admin:reserve_transfer_cancel", args=[transfer.pk]): {"comment": "no"},
        reverse("admin:reserve_transfer_import"): {},
        reverse("admin:reserve_pricequote_import"): {},
        reverse("admin:reserve_importbatch_ledger"): {},
        reverse("admin:reserve_importbatch_approve", args=[batch.pk]): {"file_sha256": batch.file_sha256},
        reverse("admin:reserve_importbatch_reject", args=[batch.pk]): {"file_sha256": batch.file_sha256},
        reverse("admin:reserve_wallet_add"): {"name": "x"},
        reverse("admin:reserve_agency_add"): {"name": "x"},
        reverse("admin:reserve_counterparty_add"): {"name": "x"},
        reverse("admin:reserve_wallet_change", args=[funded_wallet.pk]): {"name": "renamed"},
        reverse("admin:reserve_wallet_delete", args=[funded_wallet.pk]): {"post": "yes"},
        reverse("admin:policy_policyversion_add"): {"name": "x"},
    }
    for url, data in writes.items():
        assert client.post(url, data).status_code == 403, url
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.PENDING_APPROVAL
    assert not transfer.approvals.exists()
    assert AuditEvent.objects.count() == events
    assert Wallet.objects.get(pk=funded_wallet.pk).name == "cold-01"


def test_the_ledger_and_audit_trail_are_read_only_even_for_a_superuser(
    funded_wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given
    root = signed_in(make_user("root", superuser=True))
    account = Account.objects.get(code="assets:custody:cold-01")
    journal = JournalTransaction.objects.get()
    event = AuditEvent.objects.first()
    assert event is not None
    # when / then
    for model, obj in (
        ("ledger_account", account),
        ("ledger_journaltransaction", journal),
        ("reserve_auditevent", event),
    ):
        assert root.get(reverse(f"admin:{model}_add")).status_code == 403
        assert root.post(reverse(f"admin:{model}_change", args=[obj.pk]), {"memo": "edited"}).status_code == 403
        assert root.post(reverse(f"admin:{model}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
        page = root.get(reverse(f"admin:{model}_change", args=[obj.pk]))
        assert page.status_code == 200
        assert b'name="_save"' not in page.content
    assert JournalTransaction.objects.get().memo == journal.memo


def test_each_role_gets_only_its_own_writes(
    operator: Any, approver: Any, policy_admins: list[Any], funded_wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given
    transfer = proposed(operator, funded_wallet)
    as_operator, as_approver, as_policy_admin = signed_in(operator), signed_in(approver), signed_in(policy_admins[0])
    transfer_page = reverse("admin:reserve_transfer_change", args=[transfer.pk])
    # then: operators propose and cancel, never approve
    assert as_operator.get(reverse("admin:reserve_transfer_add")).status_code == 200
    operator_view = as_operator.get(transfer_page).content
    assert b'id="cancel-button"' in operator_view
    assert b'id="approve-button"' not in operator_view
    assert as_operator.post(reverse("admin:reserve_transfer_approve", args=[transfer.pk])).status_code == 403
    assert as_operator.get(reverse("admin:policy_policyversion_add")).status_code == 403
    # approvers decide, never propose
    assert as_approver.get(reverse("admin:reserve_transfer_add")).status_code == 403
    approver_view = as_approver.get(transfer_page).content
    assert b'id="approve-button"' in approver_view
    assert b'id="cancel-button"' not in approver_view
    assert as_approver.post(reverse("admin:reserve_wallet_add"), {"name": "x"}).status_code == 403
    # policy administrators draft policies, and touch no transfer
    assert as_policy_admin.get(reverse("admin:policy_policyversion_add")).status_code == 200
    assert as_policy_admin.get(reverse("admin:reserve_transfer_add")).status_code == 403
    assert as_policy_admin.post(reverse("admin:reserve_transfer_approve", args=[transfer.pk])).status_code == 403
    assert not Agency.objects.filter(name="x").exists()


def test_the_sidebar_shows_each_role_only_what_it_may_view_with_counts(
    operator: Any, approver: Any, auditor: Any, funded_wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given: a proposal waiting for the approver
    proposed(operator, funded_wallet)

    def sidebar(user: Any) -> dict[str, dict[str, str]]:
        groups = signed_in(user).get(reverse("admin:index")).context["sidebar_navigation"]
        return {
            group.get("title", ""): {item["title"]: item.get("badge", "") for item in group["items"]}
            for group in groups
        }

    # when
    as_auditor, as_approver = sidebar(auditor), sidebar(approver)
    as_root = sidebar(make_user("root", superuser=True))
    # then
    assert {"Treasury", "Policy", "Books", "Audit"} <= set(as_auditor)
    assert "Access" not in as_auditor and "Access" in as_root
    assert as_approver["Treasury"]["Transfers"] == "1"  # one transfer waits for the approver's decision
    assert as_auditor["Treasury"]["Transfers"] == ""


def policy_permission(name: str) -> Permission:
    return Permission.objects.get(content_type__app_label="policy", codename=name.split(".")[1])


def test_policy_buttons_follow_the_permission_not_the_group(
    policy_admins: list[Any], holdings_cap: PolicyVersion, signed_in: Callable[[Any], Client]
) -> None:
    # given: the policy_admin group without policy's permissions, and two auditors (a role that
    # reads, nothing more) each granted one of them
    Group.objects.get(name="policy_admin").permissions.remove(
        *Permission.objects.filter(content_type__app_label="policy")
    )
    holder, reviewer = make_user("hal", "auditor"), make_user("rae", "auditor")
    holder.user_permissions.add(policy_permission(DRAFT_VERSION))
    reviewer.user_permissions.add(policy_permission(APPROVE_VERSION))
    member, as_holder, as_reviewer = signed_in(policy_admins[0]), signed_in(holder), signed_in(reviewer)
    add = reverse("admin:policy_policyversion_add")
    draft = {
        "name": "Perimeter cap",
        "scope_kind": "perimeter",
        "rules": '[{"type": "holdings_cap", "params": {"max_sats": 500000000}}]',
        "effective_from": "2026-01-01 00:00",
    }
    # when
    refused = (member.get(add).status_code, member.post(add, draft).status_code)
    saved = as_holder.post(add, draft)
    version = PolicyVersion.objects.get(policy__name="Perimeter cap")
    approve = reverse("admin:policy_policyversion_approve", args=[version.pk])
    # then
    assert refused == (403, 403)
    assert saved.status_code == 302 and version.author_id == holder.pk
    page = reverse("admin:policy_policyversion_change", args=[version.pk])
    assert b'id="policy-approve-button"' not in member.get(page).content
    assert b'id="policy-approve-button"' not in as_holder.get(page).content
    assert b'id="policy-approve-button"' in as_reviewer.get(page).content
    assert member.post(approve).status_code == 403
    assert as_reviewer.post(approve).status_code == 302
    assert list(version.approvals.values_list("approver__username", flat=True)) == ["rae"]
