"""The admin's transfer page lets an operator propose that an inflow nobody proposed be marked
involuntary (dust, a donation, a fork) with a reason, and an approver other than the proposer
approve or reject it, through the services the API uses; an auditor gets no form and a 403, a
proposed inflow no form, and a refused mark (no reason, a voluntary term, its proposer's own
approval) changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from reserve.audit.models import AuditEvent
from reserve.custody.models import Wallet
from reserve.transfers.models import InvoluntaryMark, Transfer
from reserve.transfers.services import transfer_create
from tests.reserve.conftest import observed_inflow
from tests.users import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def seen(wallet: Wallet) -> Transfer:
    return observed_inflow(wallet, amount_sats=546)


def _page(client: Client, transfer: Transfer) -> str:
    return client.get(reverse("admin:reserve_transfer_change", args=[transfer.pk])).content.decode()


def _mark(client: Client, transfer: Transfer, **data: str) -> Any:
    url = reverse("admin:reserve_transfer_involuntary", args=[transfer.pk])
    return client.post(url, {"category": "dust", "comment": "546 sats to the published address"} | data)


def _decide(client: Client, transfer: Transfer, decision: str = "approve", comment: str = "") -> Any:
    url = reverse(f"admin:reserve_transfer_involuntary_{decision}", args=[transfer.pk])
    return client.post(url, {"comment": comment})


def _category(transfer: Transfer) -> str:
    return Transfer.objects.get(pk=transfer.pk).category


def test_an_operator_proposes_and_an_approver_approves(
    operator: Any, approver: Any, seen: Transfer, signed_in: Callable[[Any], Client]
) -> None:
    client = signed_in(operator)
    page = _page(client, seen)
    assert 'id="involuntary-form"' in page
    assert '<option value="dust">' in page and '<option value="purchase">' not in page

    for refused in ({"comment": " "}, {"category": "purchase"}):
        response = _mark(client, seen, **refused)
        assert response.status_code == 302
        assert "Not proposed as involuntary: " in _page(client, seen)
        assert not InvoluntaryMark.objects.exists()

    # the proposal: the category stays, the form gives way to the open mark, the operator cannot decide it
    _mark(client, seen)
    assert _category(seen) == "other"
    page = _page(client, seen)
    assert 'id="involuntary-open"' in page and 'id="involuntary-form"' not in page
    assert 'id="involuntary-approve-form"' not in page
    assert _decide(client, seen).status_code == 403

    # the approver's page offers the decision; approving classes the transfer
    checker = signed_in(approver)
    assert 'id="involuntary-approve-form"' in _page(checker, seen)
    _decide(checker, seen, comment="dust sweep")
    assert _category(seen) == "dust"
    assert "Involuntary mark approved." in _page(checker, seen)
    assert AuditEvent.objects.filter(action="transfer.mark_involuntary", object_id=str(seen.pk)).count() == 1


def test_the_proposer_cannot_approve_their_own_mark_in_the_admin(
    seen: Transfer, signed_in: Callable[[Any], Client]
) -> None:
    both = signed_in(make_user("bea", "operator", "approver", staff=True))
    _mark(both, seen)
    page = _page(both, seen)
    assert 'id="involuntary-open"' in page and 'id="involuntary-approve-form"' not in page
    # a crafted POST all the same: the service refuses its proposer (the admin's 403)
    for decision in ("approve", "reject"):
        assert _decide(both, seen, decision, comment="mine").status_code == 403
    assert (InvoluntaryMark.objects.get().status, _category(seen)) == ("proposed", "other")


def test_an_approver_rejects_and_the_transfer_may_be_proposed_again(
    operator: Any, approver: Any, seen: Transfer, signed_in: Callable[[Any], Client]
) -> None:
    _mark(signed_in(operator), seen)
    checker = signed_in(approver)
    _decide(checker, seen, "reject", comment="a purchase, not dust")
    assert "Involuntary mark rejected" in _page(checker, seen)
    assert (InvoluntaryMark.objects.get().status, _category(seen)) == ("rejected", "other")
    assert _decide(checker, seen).status_code == 302  # nothing open: refused, with a message
    assert 'id="involuntary-form"' in _page(signed_in(operator), seen)


def test_an_auditor_and_a_proposed_inflow_get_no_form(
    operator: Any, auditor: Any, wallet: Wallet, seen: Transfer, signed_in: Callable[[Any], Client]
) -> None:
    viewer = signed_in(auditor)
    assert 'id="involuntary-form"' not in _page(viewer, seen)
    assert _mark(viewer, seen).status_code == 403
    proposed = transfer_create(
        actor=operator, direction="inbound", category="purchase", amount_sats=1_000, destination_wallet=wallet
    )
    assert 'id="involuntary-form"' not in _page(signed_in(operator), proposed)
    assert _mark(signed_in(operator), proposed).status_code == 302
    assert _category(seen) == "other"
    assert _category(proposed) == "purchase"


def test_the_dashboard_lists_open_marks_for_approvers_but_not_for_their_proposer(
    operator: Any, approver: Any, seen: Transfer, signed_in: Callable[[Any], Client]
) -> None:
    both = make_user("bea", "operator", "approver", staff=True)
    _mark(signed_in(both), seen)
    dashboard = reverse("admin:index")
    page = signed_in(approver).get(dashboard).content.decode()
    assert 'id="awaiting-involuntary"' in page and "546 sats to the published address" in page
    assert 'id="awaiting-involuntary"' not in signed_in(both).get(dashboard).content.decode()
    assert 'id="awaiting-involuntary"' not in signed_in(operator).get(dashboard).content.decode()
