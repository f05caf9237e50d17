"""Transfer proposal through the policy dry run, and approve / reject / cancel as buttons."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ledger.models import AccountBalance, PendingStatus
from reserve.audit.models import AuditEvent
from reserve.custody.models import Wallet
from reserve.transfers.models import Transfer, TransferStatus
from tests.reserve.admin.conftest import BTC, EXTERNAL, make_user

pytestmark = pytest.mark.django_db


def proposal(wallet: Wallet, **overrides: str) -> dict[str, Any]:
    return {
        "direction": "outbound",
        "category": "return_to_victims",
        "amount_btc": "0.5",
        "fee_btc": "0.0001",
        "source_wallet": str(wallet.pk),
        "external_address": EXTERNAL,
        "provenance_reference": "Court order 2026-17",
        "memo": "",
        "idempotency_key": "form-1",
        **overrides,
    }


def propose(client: Client, data: dict[str, Any]) -> Transfer:
    response = client.post(reverse("admin:reserve_transfer_add"), {**data, "_submit": "1"})
    assert response.status_code == 302, response.content.decode()[:2000]
    return Transfer.objects.get(idempotency_key=data["idempotency_key"])


def test_the_preview_shows_the_policy_decision_line_by_line_and_stores_nothing(
    operator: Any, funded_wallet: Wallet, holdings_cap: Any, signed_in: Callable[[Any], Client]
) -> None:
    # given
    client = signed_in(operator)
    transfers, events = Transfer.objects.count(), AuditEvent.objects.count()
    # when
    response = client.post(reverse("admin:reserve_transfer_add"), {**proposal(funded_wallet), "_preview": "1"})
    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="policy-preview"' in page
    assert "holdings_cap" in page
    assert "needs 2 approvals from approvers" in page
    assert "0.50000000 BTC" in page
    assert 'name="_submit"' in page
    assert (Transfer.objects.count(), AuditEvent.objects.count()) == (transfers, events)


def test_submit_proposes_once_even_when_repeated(
    operator: Any, funded_wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given
    client = signed_in(operator)
    # when: the submit button is clicked twice
    transfer = propose(client, proposal(funded_wallet))
    again = propose(client, proposal(funded_wallet))
    # then
    assert again.pk == transfer.pk
    assert transfer.status == TransferStatus.PENDING_APPROVAL
    assert (transfer.amount_sats, transfer.fee_sats, transfer.proposer) == (BTC // 2, 10_000, operator)
    assert transfer.policy_preview is not None
    assert AuditEvent.objects.filter(object_id=str(transfer.pk), action="transfer.propose").count() == 1


def test_bad_input_is_refused_on_the_field_it_concerns(
    operator: Any, funded_wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given
    client = signed_in(operator)
    url = reverse("admin:reserve_transfer_add")
    # when
    too_precise = client.post(url, {**proposal(funded_wallet, amount_btc="0.123456789"), "_preview": "1"})
    wrong_network = client.post(
        url, {**proposal(funded_wallet, external_address="bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"), "_preview": "1"}
    )
    # then
    assert too_precise.status_code == 400
    assert too_precise.context["form"].errors["amount_btc"] == [
        "0.123456789 has more than 8 decimal places (1 sat = 0.00000001 BTC)"
    ]
    assert wrong_network.status_code == 400
    assert "external_address" in wrong_network.context["form"].errors
    assert "mainnet" in wrong_network.context["form"].errors["external_address"][0]
    assert not Transfer.objects.filter(status=TransferStatus.PENDING_APPROVAL).exists()


def test_approve_buttons_move_the_transfer_to_approved_and_reserve_the_amount(
    operator: Any,
    approver: Any,
    approver2: Any,
    funded_wallet: Wallet,
    signed_in: Callable[[Any], Client],
) -> None:
    # given
    transfer = propose(signed_in(operator), proposal(funded_wallet))
    first, second = signed_in(approver), signed_in(approver2)
    page = reverse("admin:reserve_transfer_change", args=[transfer.pk])
    approve = reverse("admin:reserve_transfer_approve", args=[transfer.pk])
    before = first.get(page).content.decode()
    assert "0 / 2" in before and 'id="policy-now"' in before
    # when
    assert first.post(approve, {"comment": "checked the court order"}).status_code == 302
    # then
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.PENDING_APPROVAL
    after_first = first.get(page).content.decode()
    assert "1 / 2" in after_first and "ana" in after_first
    assert 'id="decision-blocked"' in after_first  # ana already decided: her buttons are disabled
    assert first.post(approve).status_code == 302  # a second click records nothing
    assert transfer.approvals.count() == 1
    # when
    assert second.post(approve, {"comment": "ok"}).status_code == 302
    # then
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.APPROVED
    assert transfer.pending is not None and transfer.pending.status == PendingStatus.OPEN
    balance = AccountBalance.objects.get(account=funded_wallet.ledger_account)
    assert (balance.balance_sats, balance.pending_sats) == (2 * BTC, BTC // 2 + 10_000)
    final_page = second.get(page).content.decode()
    assert 'id="ledger-reservation"' in final_page and "approved" in final_page


def test_approvers_see_what_the_source_wallet_has_available_beside_their_decision(
    operator: Any,
    approver: Any,
    approver2: Any,
    funded_wallet: Wallet,
    signed_in: Callable[[Any], Client],
) -> None:
    # given: two returns from the 2 BTC wallet, 0.5 and 1.6 BTC, both waiting
    operators = signed_in(operator)
    small = propose(operators, proposal(funded_wallet))
    large = propose(operators, proposal(funded_wallet, amount_btc="1.6", idempotency_key="form-2"))

    def funds_line(transfer: Transfer) -> str:
        page = signed_in(approver).get(reverse("admin:reserve_transfer_change", args=[transfer.pk])).content.decode()
        decision = page.split('id="transfer-decision"')[1]
        assert decision.index('id="source-funds"') < decision.index('id="decision-form"')
        return decision.split('id="source-funds"')[1].split(">", 1)[1].split("</p>")[0]

    # then: each approver reads the wallet's available balance and what the transfer needs
    assert funds_line(large) == (
        "Wallet cold-01 has 2.00000000 BTC available (2.00000000 booked, 0.00000000 held by approved transfers); "
        "this transfer needs 1.60010000 BTC (1.60000000 plus a fee of 0.00010000)."
    )
    # when: the small one is approved, its reservation holding 0.5001 BTC
    for checker in (approver, approver2):
        signed_in(checker).post(reverse("admin:reserve_transfer_approve", args=[small.pk]), {"comment": "ok"})
    # then: the large one's approvers see the reservation named, and that the wallet no longer pays it
    assert funds_line(large) == (
        f"Wallet cold-01 has 1.49990000 BTC available (2.00000000 booked, 0.50010000 held by approved transfer "
        f"#{small.pk}); this transfer needs 1.60010000 BTC (1.60000000 plus a fee of 0.00010000)."
    )
    page = signed_in(approver).get(reverse("admin:reserve_transfer_change", args=[large.pk])).content.decode()
    assert '<p id="source-funds" class="text-sm text-red-700">' in page
    # and an approved transfer's page has no such line (its reservation holds what it needs)
    page = signed_in(approver).get(reverse("admin:reserve_transfer_change", args=[small.pk])).content.decode()
    assert 'id="source-funds"' not in page


def test_the_proposer_cannot_approve_even_holding_the_approver_role(
    funded_wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given
    both = make_user("oscar", "operator", "approver")
    client = signed_in(both)
    transfer = propose(client, proposal(funded_wallet))
    # when
    page = client.get(reverse("admin:reserve_transfer_change", args=[transfer.pk])).content.decode()
    response = client.post(reverse("admin:reserve_transfer_approve", args=[transfer.pk]), {"comment": "mine"})
    # then
    assert "the proposer of a transfer can never approve it" in page
    assert 'id="approve-button" disabled' in page
    assert response.status_code == 403
    assert not transfer.approvals.exists()


def test_reject_needs_a_reason_and_closes_the_transfer(
    operator: Any, approver: Any, funded_wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given
    transfer = propose(signed_in(operator), proposal(funded_wallet))
    client = signed_in(approver)
    reject = reverse("admin:reserve_transfer_reject", args=[transfer.pk])
    # when
    without_reason = client.post(reject, {"comment": " "}, follow=True)
    # then
    assert "say why the transfer is rejected" in without_reason.content.decode()
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.PENDING_APPROVAL
    # when
    client.post(reject, {"comment": "destination not on the court order"})
    # then
    transfer.refresh_from_db()
    assert (transfer.status, transfer.status_reason) == (TransferStatus.REJECTED, "destination not on the court order")


def test_an_operator_cancels_and_decisions_are_post_only(
    operator: Any, funded_wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given
    client = signed_in(operator)
    transfer = propose(client, proposal(funded_wallet))
    cancel = reverse("admin:reserve_transfer_cancel", args=[transfer.pk])
    # when
    as_get = client.get(cancel)
    client.post(cancel, {"comment": "wrong amount"})
    # then
    assert as_get.status_code == 405
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.CANCELLED


def test_an_operator_records_the_broadcast_then_the_failure_which_releases_the_reservation(
    operator: Any, approver: Any, approver2: Any, funded_wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given: an approved outflow holding 0.5001 BTC
    client = signed_in(operator)
    transfer = propose(client, proposal(funded_wallet))
    for user in (approver, approver2):
        signed_in(user).post(reverse("admin:reserve_transfer_approve", args=[transfer.pk]))
    page = client.get(reverse("admin:reserve_transfer_change", args=[transfer.pk])).content.decode()
    assert 'id="broadcast-button"' in page
    # when
    bad = client.post(reverse("admin:reserve_transfer_broadcast", args=[transfer.pk]), {"comment": "xyz"}, follow=True)
    client.post(reverse("admin:reserve_transfer_broadcast", args=[transfer.pk]), {"comment": "AB" * 32})
    # then
    assert "must be 64 hexadecimal characters" in bad.content.decode()
    transfer.refresh_from_db()
    assert (transfer.status, transfer.txid) == (TransferStatus.BROADCAST, "ab" * 32)
    # when
    client.post(
        reverse("admin:reserve_transfer_fail", args=[transfer.pk]), {"comment": "double-spent by the custodian"}
    )
    # then
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.FAILED
    assert AccountBalance.objects.get(account=funded_wallet.ledger_account).pending_sats == 0
    assert signed_in(approver).post(reverse("admin:reserve_transfer_fail", args=[transfer.pk])).status_code == 403
