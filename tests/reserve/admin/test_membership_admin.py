"""Wallet membership in the admin: no face edits a wallet's agency or perimeter flag; an operator
proposes, another person (an approver) approves; the proposer's own approval is refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from reserve.admin.custody import WalletSettingsForm
from reserve.custody.models import Agency, Wallet, WalletMembership

pytestmark = pytest.mark.django_db


def test_the_wallet_pages_offer_no_membership_field(
    operator: Any, wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    assert {"in_perimeter", "agency"}.isdisjoint(WalletSettingsForm.base_fields)
    page = signed_in(operator).get(reverse("admin:reserve_wallet_change", args=[wallet.pk]))
    assert page.status_code == 200
    assert 'name="in_perimeter"' not in page.content.decode()
    # the generic change form is never offered, so a crafted POST to it changes nothing
    signed_in(operator).post(reverse("admin:reserve_wallet_change", args=[wallet.pk]), {"in_perimeter": ""})
    assert Wallet.objects.get(pk=wallet.pk).in_perimeter is True


def test_a_proposal_takes_effect_only_when_an_approver_approves_it(
    operator: Any, approver: Any, wallet: Wallet, agency: Agency, signed_in: Callable[[Any], Client]
) -> None:
    # given: the operator proposes, through the add form
    response = signed_in(operator).post(
        reverse("admin:reserve_walletmembership_add"),
        {"wallet": str(wallet.pk), "agency": "", "in_perimeter": "out", "reason": "Decree 4/2026"},
    )
    assert response.status_code == 302
    proposal = WalletMembership.objects.get(wallet=wallet, status="proposed")
    assert Wallet.objects.get(pk=wallet.pk).in_perimeter is True
    changelist = reverse("admin:reserve_walletmembership_changelist")
    action = {"action": "approve", "_selected_action": [str(proposal.pk)]}
    # when: the operator tries to approve it (no permission), then the approver does
    signed_in(operator).post(changelist, action)
    assert WalletMembership.objects.get(pk=proposal.pk).status == "proposed"
    signed_in(approver).post(changelist, action)
    # then
    assert WalletMembership.objects.get(pk=proposal.pk).status == "approved"
    assert Wallet.objects.get(pk=wallet.pk).in_perimeter is False


def test_the_proposer_cannot_approve_their_own_proposal_in_the_admin(
    wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    from tests.users import make_user

    both = make_user("mallory", "operator", "approver", staff=True)
    client = signed_in(both)
    client.post(
        reverse("admin:reserve_walletmembership_add"),
        {"wallet": str(wallet.pk), "agency": "", "in_perimeter": "out", "reason": "mine"},
    )
    proposal = WalletMembership.objects.get(wallet=wallet, status="proposed")
    response = client.post(
        reverse("admin:reserve_walletmembership_changelist"),
        {"action": "approve", "_selected_action": [str(proposal.pk)]},
    )
    assert response.status_code == 403
    assert WalletMembership.objects.get(pk=proposal.pk).status == "proposed"
    assert Wallet.objects.get(pk=wallet.pk).in_perimeter is True
