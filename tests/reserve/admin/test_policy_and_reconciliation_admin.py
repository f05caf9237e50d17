"""Policy drafts and their approval, breach and discrepancy resolution, wallet settings, and the
CSRF protection of every button."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ledger.models import AccountBalance
from policy.models import PolicyBreach, PolicyVersion
from reserve.custody.models import Wallet, WatchedScript
from reserve.reconciliation.models import Discrepancy, DiscrepancyStatus
from reserve.transfers.models import Transfer
from reserve.transfers.services import transfer_create, transfer_propose, transfer_record_observed
from tests.reserve.admin.conftest import BTC, EXTERNAL
from tests.reserve.transfers.test_transfers import approve_twice

pytestmark = pytest.mark.django_db


def test_a_policy_admin_drafts_and_two_others_approve_with_buttons(
    policy_admins: list[Any], signed_in: Callable[[Any], Client]
) -> None:
    # given
    author, first, second = (signed_in(user) for user in policy_admins)
    add = reverse("admin:policy_policyversion_add")
    draft = {
        "name": "Perimeter cap",
        "scope_kind": "perimeter",
        "rules": '[{"type": "holdings_cap", "params": {"max_sats": 500000000}}]',
        "effective_from": "2026-01-01 00:00",
    }
    # when
    refused = author.post(add, {**draft, "rules": '[{"type": "holdings_cap", "params": {}}]'})
    saved = author.post(add, draft)
    # then
    assert refused.status_code == 400
    assert any("max_sats" in error for error in refused.context["form"].errors["rules"])
    version = PolicyVersion.objects.get()
    assert saved.status_code == 302 and version.status == PolicyVersion.Status.DRAFT
    page = author.get(reverse("admin:policy_policyversion_change", args=[version.pk])).content.decode()
    assert "Holdings cap: the scope may hold at most 5.00000000 BTC." in page
    assert "You wrote this version" in page
    # when
    approve = reverse("admin:policy_policyversion_approve", args=[version.pk])
    author.post(approve)
    first.post(approve, {"comment": "matches the law"})
    second.post(approve)
    # then
    version.refresh_from_db()
    assert version.status == PolicyVersion.Status.ACTIVE
    assert sorted(version.approvals.values_list("approver__username", flat=True)) == ["paul", "petra"]


def test_an_operator_resolves_a_breach_and_an_auditor_cannot(
    operator: Any, auditor: Any, funded_wallet: Wallet, holdings_cap: Any, signed_in: Callable[[Any], Client]
) -> None:
    # given: an unproposed 1.5 BTC inflow takes holdings to 3.5 BTC, over the 3 BTC cap
    transfer_record_observed(
        direction="inbound",
        amount_sats=3 * BTC // 2,
        txid="cd" * 32,
        vout=0,
        block_height=200,
        block_hash="ef" * 32,
        occurred_at=datetime(2026, 2, 1, tzinfo=UTC),
        destination_wallet=funded_wallet,
    )
    breach = PolicyBreach.objects.get()
    url = reverse("admin:policy_policybreach_resolve", args=[breach.pk])
    # when
    assert signed_in(auditor).post(url, {"reason": "seen"}).status_code == 403
    signed_in(operator).post(url, {"reason": "donation returned to sender, see case 12"})
    # then
    breach.refresh_from_db()
    assert breach.status == PolicyBreach.Status.RESOLVED
    assert breach.resolution_reason == "donation returned to sender, see case 12"


def test_an_operator_resolves_a_discrepancy_with_an_audited_adjustment(
    operator: Any, auditor: Any, funded_wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given: the chain shows 1,000 sats more than the books
    discrepancy = Discrepancy.objects.create(
        wallet=funded_wallet,
        kind="unrecorded_inflow",
        txid="ee" * 32,
        vout=1,
        expected_sats=0,
        actual_sats=1_000,
        detail="dust received",
    )
    url = reverse("admin:reserve_discrepancy_resolve", args=[discrepancy.pk])
    listing = signed_in(operator).get(reverse("admin:reserve_discrepancy_changelist")).content.decode()
    assert url in listing  # the "Resolve…" link of the open discrepancy
    # its own page explains it and resolves it in place, for whoever may resolve it
    own_page = reverse("admin:reserve_discrepancy_change", args=[discrepancy.pk])
    page = signed_in(operator).get(own_page).content.decode()
    assert 'id="discrepancy-resolve-form"' in page and f'action="{url}"' in page
    assert "Bitcoin arrived that no transfer proposed" in page
    assert 'id="discrepancy-resolve-form"' not in signed_in(auditor).get(own_page).content.decode()
    # when
    assert signed_in(auditor).post(url, {"reason": "x"}).status_code == 403
    signed_in(operator).post(url, {"reason": "dust from an unknown sender", "adjustment_btc": "0.00001"})
    # then
    discrepancy.refresh_from_db()
    assert discrepancy.status == DiscrepancyStatus.RESOLVED and discrepancy.adjustment is not None
    assert AccountBalance.objects.get(account=funded_wallet.ledger_account).balance_sats == 2 * BTC + 1_000
    assert signed_in(operator).get(reverse("admin:index")).context["open_discrepancy_count"] == 0
    page = signed_in(operator).get(own_page).content.decode()
    assert "dust from an unknown sender" in page.split('id="discrepancy-resolution"')[1]
    assert 'id="discrepancy-resolve-form"' not in page


def test_an_adjustment_the_reservations_leave_no_room_for_is_refused_naming_the_wallet_and_the_transfer(
    operator: Any, approver: Any, approver2: Any, funded_wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given: of the 2 BTC booked, an approved return holds 1.5 BTC (and its fee)
    held = transfer_create(
        actor=operator,
        direction="outbound",
        category="return_to_victims",
        amount_sats=3 * BTC // 2,
        fee_sats=10_000,
        source_wallet=funded_wallet,
        external_address=EXTERNAL,
        provenance_reference="Order 9",
    )
    transfer_propose(transfer=held, actor=operator)
    approve_twice(held, approver, approver2)
    # and the chain shows a whole bitcoin less than the books
    discrepancy = Discrepancy.objects.create(
        wallet=funded_wallet, kind="amount_mismatch", expected_sats=2 * BTC, actual_sats=BTC, detail="short"
    )
    url = reverse("admin:reserve_discrepancy_resolve", args=[discrepancy.pk])

    # when: the operator writes the bitcoin off
    response = signed_in(operator).post(url, {"reason": "lost in a sweep", "adjustment_btc": "-1"})

    # then: refused in words, naming the wallet and the transfer whose reservation blocks it, on the field
    assert response.status_code == 400
    expected = (
        f"Wallet cold-01 has 0.49990000 BTC available (2.00000000 booked, 1.50010000 held by approved transfer "
        f"#{held.pk}); the adjustment takes 1.00000000 BTC."
    )
    assert response.context["form"].errors["adjustment_btc"] == [expected]
    # and nothing changed
    discrepancy.refresh_from_db()
    assert (discrepancy.status, discrepancy.adjustment) == (DiscrepancyStatus.OPEN, None)
    assert AccountBalance.objects.get(account=funded_wallet.ledger_account).balance_sats == 2 * BTC


def test_wallet_settings_change_through_the_service(
    operator: Any, auditor: Any, wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given
    url = reverse("admin:reserve_wallet_settings", args=[wallet.pk])
    # in_perimeter unticked (absent) and a crafted agency: membership is not a setting, both are ignored
    settings = {"birthday_height": "120", "gap_limit": "5", "agency": "999"}
    # when
    assert signed_in(auditor).post(url, settings).status_code == 403
    signed_in(operator).post(url, settings)
    # then
    wallet.refresh_from_db()
    assert (wallet.in_perimeter, wallet.birthday_height, wallet.gap_limit) == (True, 120, 5)
    assert WatchedScript.objects.filter(wallet=wallet).count() == 10


def test_buttons_need_the_csrf_token(operator: Any, approver: Any, funded_wallet: Wallet) -> None:
    # given
    draft = transfer_create(
        actor=operator,
        direction="outbound",
        category="return_to_victims",
        amount_sats=BTC // 10,
        source_wallet=funded_wallet,
        external_address=EXTERNAL,
    )
    transfer = transfer_propose(transfer=draft, actor=operator)
    client = Client(enforce_csrf_checks=True)
    client.force_login(approver)
    # when
    page = client.get(reverse("admin:reserve_transfer_change", args=[transfer.pk])).content.decode()
    forged = client.post(reverse("admin:reserve_transfer_approve", args=[transfer.pk]))
    # then
    assert 'id="decision-form"' in page and "csrfmiddlewaretoken" in page
    assert forged.status_code == 403
    assert not Transfer.objects.get(pk=transfer.pk).approvals.exists()


def test_a_draft_warns_of_a_limit_already_exceeded_and_a_past_effective_date(
    policy_admins: list[Any], funded_wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given: the wallet's agency holds 2 BTC
    author = signed_in(policy_admins[0])
    add = reverse("admin:policy_policyversion_add")
    draft = {"scope_kind": "agency", "agency": funded_wallet.agency_id}
    # when: a 1 BTC cap from a past date, then a 5 BTC cap from next year
    exceeded = author.post(
        add,
        {
            **draft,
            "name": "Tight cap",
            "rules": '[{"type": "holdings_cap", "params": {"max_sats": 100000000}}]',
            "effective_from": "2026-01-01 00:00",
        },
        follow=True,
    )
    within = author.post(
        add,
        {
            **draft,
            "name": "Loose cap",
            "rules": '[{"type": "holdings_cap", "params": {"max_sats": 500000000}}]',
            "effective_from": f"{timezone.now().year + 1}-01-01 00:00",
        },
        follow=True,
    )
    # then: the first is saved as a draft with both warnings (not errors), the second with none
    warnings = [str(message) for message in exceeded.context["messages"] if message.level_tag == "warning"]
    assert len(warnings) == 2 and PolicyVersion.objects.filter(policy__name="Tight cap", status="draft").exists()
    assert "effective_from 2026-01-01 00:00 UTC lies in the past" in warnings[0]
    assert "holdings_cap is already exceeded" in warnings[1] and "2.00000000 BTC" in warnings[1]
    assert [message for message in within.context["messages"] if message.level_tag == "warning"] == []
