"""Pledges and liabilities in the admin: a policy administrator makes one with the add form, a
second approves it with the page's button and it is released with its document, each through the
services; the maker, an approver and an operator are refused (403), the generic change and delete
forms do not exist, and a bad value is shown on its field with nothing saved."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from reserve.compliance.models import Pledge, PledgeStatus
from reserve.custody.models import Wallet

pytestmark = pytest.mark.django_db


def pledge_form(wallet: Wallet | None, **changes: str) -> dict[str, str]:
    form = {
        "kind": "collateral",
        "wallet": str(wallet.pk) if wallet else "",
        "amount_btc": "2.5",
        "purpose": "Collateral for the hydropower bond",
        "reference": "Cabinet order 2026/14",
        "dated": "2026-06-01",
    }
    return form | changes


def sidebar_badges(client: Client) -> dict[str, str]:
    groups = client.get(reverse("admin:index")).context["sidebar_navigation"]
    return {item["title"]: item.get("badge", "") for group in groups for item in group["items"]}


def test_made_in_the_form_approved_by_another_and_released_with_its_document(
    policy_admins: list[Any], operator: Any, approver: Any, wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given: a pledge made with the add form
    maker, checker = signed_in(policy_admins[0]), signed_in(policy_admins[1])
    assert maker.post(reverse("admin:reserve_pledge_add"), pledge_form(wallet)).status_code == 302
    pledge = Pledge.objects.get()
    assert (pledge.amount_sats, pledge.made_by, pledge.status) == (250_000_000, policy_admins[0], PledgeStatus.MADE)
    page = reverse("admin:reserve_pledge_change", args=[pledge.pk])
    approve = reverse("admin:reserve_pledge_approve", args=[pledge.pk])
    release = reverse("admin:reserve_pledge_release", args=[pledge.pk])
    assert sidebar_badges(checker)["Pledges and liabilities"] == "1"
    assert sidebar_badges(maker)["Pledges and liabilities"] == ""

    # when: the maker, an approver and an operator try the button; then the second policy admin
    maker_page = maker.get(page).content.decode()
    refused = [signed_in(user).post(approve).status_code for user in (policy_admins[0], approver, operator)]
    unapproved = Pledge.objects.get().approved_at
    checker_page = checker.get(page).content.decode()
    approved = checker.post(approve)
    unnamed = checker.post(release, {"reference": " "})
    after_unnamed = Pledge.objects.get().released_at
    released = maker.post(release, {"reference": "Bond repaid, deed 2027/2"}, follow=True)

    # then
    assert "proposer of a pledge can never approve it" in maker_page
    assert 'id="pledge-approve-button" disabled' in maker_page
    assert refused == [403, 403, 403]
    assert unapproved is None
    assert 'id="pledge-approve-button" disabled' not in checker_page
    assert approved.status_code == 302
    assert unnamed.status_code == 302 and after_unnamed is None
    assert "Pledge #" in released.content.decode() and "is released" in released.content.decode()
    pledge = Pledge.objects.get()
    assert (pledge.approved_by, pledge.released_by, pledge.release_reference) == (
        policy_admins[1],
        policy_admins[0],
        "Bond repaid, deed 2027/2",
    )
    assert 'id="pledge-release-button"' not in checker.get(page).content.decode()


def test_every_role_reads_but_only_the_services_write(
    policy_admins: list[Any], operator: Any, auditor: Any, wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given
    signed_in(policy_admins[0]).post(reverse("admin:reserve_pledge_add"), pledge_form(wallet))
    pledge = Pledge.objects.get()
    change = reverse("admin:reserve_pledge_change", args=[pledge.pk])
    delete = reverse("admin:reserve_pledge_delete", args=[pledge.pk])
    admin = signed_in(policy_admins[1])

    # when
    reads = [signed_in(user).get(reverse("admin:reserve_pledge_changelist")) for user in (auditor, operator)]
    adds = [
        signed_in(user).post(reverse("admin:reserve_pledge_add"), pledge_form(wallet)) for user in (auditor, operator)
    ]
    edited = admin.post(change, pledge_form(wallet, amount_btc="0.1") | {"approved_by": str(policy_admins[1].pk)})
    deleted = admin.post(delete, {"post": "yes"})
    filtered = admin.get(reverse("admin:reserve_pledge_changelist"), {"status": "active"})

    # then
    assert [response.status_code for response in reads] == [200, 200]
    assert b"Cabinet order 2026/14" in reads[0].content
    assert [response.status_code for response in adds] == [403, 403]
    assert edited.status_code == 403 and deleted.status_code == 403
    assert b"Cabinet order 2026/14" not in filtered.content
    pledge = Pledge.objects.get()
    assert (pledge.amount_sats, pledge.approved_at) == (250_000_000, None)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"amount_btc": "lots"}, "amount_btc", "is not a BTC amount"),
        ({"amount_btc": "0.000000001"}, "amount_btc", "8"),
        ({"wallet": ""}, "wallet", "names the wallet whose coins it holds"),
        ({"wallet": "999999"}, "wallet", "Select a valid choice"),
        ({"kind": "loan"}, "kind", "Select a valid choice"),
        ({"reference": " "}, "reference", "required"),
    ],
)
def test_a_bad_value_is_shown_on_its_field_and_nothing_is_saved(
    policy_admins: list[Any],
    wallet: Wallet,
    signed_in: Callable[[Any], Client],
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    response = signed_in(policy_admins[0]).post(reverse("admin:reserve_pledge_add"), pledge_form(wallet) | changes)

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert not Pledge.objects.exists()
