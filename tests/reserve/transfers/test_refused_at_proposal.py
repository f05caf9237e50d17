"""Way 9 of issue 11: a proposal the policy denies, or that its wallet cannot pay, is refused when
proposed (never queued for approvals it can never use), by the service, the API and the admin;
the refusal's evaluation is on record, and the preview says in words what the wallet lacks."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from config.errors import Conflict
from ledger.selectors import account_available_balance
from policy.errors import PolicyDenied
from policy.models import PolicyEvaluation
from policy.services import policy_approve, policy_create_draft
from policy.types import PolicyScope
from reserve.custody.models import Wallet
from reserve.transfers.models import Transfer
from reserve.transfers.preview import transfer_dry_run
from reserve.transfers.services import transfer_approve, transfer_create, transfer_propose
from tests.reserve.conftest import REGTEST_EXTERNAL
from tests.reserve.transfers.test_transfers import fund
from tests.users import make_user

pytestmark = pytest.mark.django_db

BTC = 100_000_000


@pytest.fixture
def no_sale(db: None) -> None:
    author, first, second = (make_user(name, "policy_admin") for name in ("pa", "pb", "pc"))
    version = policy_create_draft(
        name="No sale",
        scope=PolicyScope("perimeter"),
        rules=[{"type": "no_disposal", "params": {}}],
        effective_from=timezone.now() - timedelta(days=1),
        author=author,
    )
    policy_approve(version=version, approver=first)
    policy_approve(version=version, approver=second)


def sale(wallet: Wallet, sats: int) -> dict[str, Any]:
    return {
        "direction": "outbound",
        "category": "sale",
        "amount_sats": sats,
        "fee_sats": 10_000,
        "source_wallet": wallet,
        "external_address": REGTEST_EXTERNAL,
    }


def refusals() -> list[str]:
    """The reasons of the stored proposal refusals."""
    return [row.lines[0]["reason"] for row in PolicyEvaluation.objects.filter(gate="proposal", outcome="deny")]


def test_a_denied_proposal_is_refused_and_its_evaluation_says_why(
    no_sale: None, operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet
) -> None:
    # given
    fund(cold_wallet, 10 * BTC, operator, approver, approver2)
    draft = transfer_create(actor=operator, **sale(cold_wallet, BTC))
    # when
    with pytest.raises(PolicyDenied) as refused:
        transfer_propose(transfer=draft, actor=operator)
    # then: still a draft, nobody can approve it, the refusal is stored against it
    assert "may not leave the perimeter" in refused.value.message
    assert Transfer.objects.get(pk=draft.pk).status == "draft"
    with pytest.raises(Conflict, match="it is draft"):
        transfer_approve(transfer=draft, actor=approver)
    stored = PolicyEvaluation.objects.get(gate="proposal", subject_id=str(draft.pk))
    assert stored.outcome == "deny" and "may not leave the perimeter" in stored.lines[0]["reason"]


def test_the_api_refuses_a_denied_proposal_stores_no_transfer_and_keeps_the_refusal(
    no_sale: None, operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet
) -> None:
    # given
    fund(cold_wallet, 10 * BTC, operator, approver, approver2)
    client = APIClient()
    client.force_authenticate(operator)
    body = sale(cold_wallet, BTC) | {"source_wallet": cold_wallet.pk}
    before = Transfer.objects.count()
    # when: inside the API's idempotent transaction, which rolls back
    response = client.post("/api/v1/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    # then
    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "policy_denied"
    assert Transfer.objects.count() == before
    (reason,) = refusals()
    assert reason.startswith("A sale may not leave the perimeter")


def test_the_admin_form_refuses_a_denied_proposal_and_keeps_the_refusal(
    no_sale: None, operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet
) -> None:
    # given
    fund(cold_wallet, 10 * BTC, operator, approver, approver2)
    client = Client()
    client.force_login(operator)
    before = Transfer.objects.count()
    # when
    response = client.post(
        "/admin/reserve/transfer/add/",
        {
            "direction": "outbound",
            "category": "sale",
            "amount_btc": "1",
            "fee_btc": "0.0001",
            "source_wallet": cold_wallet.pk,
            "external_address": REGTEST_EXTERNAL,
            "idempotency_key": uuid.uuid4().hex,
            "_submit": "1",
        },
    )
    # then
    assert response.status_code == 400
    assert "may not leave the perimeter" in response.content.decode()
    assert Transfer.objects.count() == before
    (reason,) = refusals()
    assert reason.startswith("A sale may not leave the perimeter")


def test_an_overdraft_is_refused_at_proposal_and_the_preview_names_the_wallet(
    operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet
) -> None:
    # given: 150 BTC held, 500 BTC asked
    fund(cold_wallet, 150 * BTC, operator, approver, approver2)
    fields = sale(cold_wallet, 500 * BTC) | {"category": "return_to_victims", "provenance_reference": "Order 9"}
    # when: previewed
    preview = transfer_dry_run(actor=operator, **fields)
    # then: denied in words, with the wallet's name and the numbers
    (line,) = [line for line in preview.lines if line.rule_type == "available_balance"]
    expected = (
        "Wallet cold-01 has 150.00000000 BTC available (150.00000000 booked, 0.00000000 held by approved "
        "transfers); this transfer needs 500.00010000 BTC (500.00000000 plus a fee of 0.00010000)."
    )
    assert (preview.outcome, line.verdict, line.reason) == ("deny", "deny", expected)
    # when: proposed
    draft = transfer_create(actor=operator, **fields)
    with pytest.raises(Conflict) as refused:
        transfer_propose(transfer=draft, actor=operator)
    # then: refused naming the field, never queued
    assert refused.value.code == "insufficient_funds"
    assert refused.value.fields == {"amount_sats": [expected]}
    assert Transfer.objects.get(pk=draft.pk).status == "draft"


def test_reservations_count_against_what_a_proposal_may_spend(
    operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet
) -> None:
    # given: 150 BTC held, 100 BTC (+ fee) reserved by an approved return
    fund(cold_wallet, 150 * BTC, operator, approver, approver2)
    fields = sale(cold_wallet, 100 * BTC) | {"category": "return_to_victims", "provenance_reference": "Order 9"}
    first = transfer_propose(transfer=transfer_create(actor=operator, **fields), actor=operator)
    transfer_approve(transfer=first, actor=approver)
    assert transfer_approve(transfer=first, actor=approver2).status == "approved"
    assert account_available_balance(account=cold_wallet.ledger_account) == 50 * BTC - 10_000
    # when: 60 BTC more is proposed
    second = transfer_create(actor=operator, **(fields | {"amount_sats": 60 * BTC}))
    with pytest.raises(Conflict) as refused:
        transfer_propose(transfer=second, actor=operator)
    # then
    assert refused.value.message.startswith(
        "Wallet cold-01 has 49.99990000 BTC available (150.00000000 booked, 100.00010000 held by approved transfer "
        f"#{first.pk})"
    )


def test_an_approval_the_wallet_can_no_longer_pay_is_refused_in_words(
    operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet
) -> None:
    # given: two returns of 100 BTC from 150, both proposed while the wallet could pay either
    fund(cold_wallet, 150 * BTC, operator, approver, approver2)
    fields = sale(cold_wallet, 100 * BTC) | {"category": "return_to_victims", "provenance_reference": "Order 9"}
    first, second = (
        transfer_propose(transfer=transfer_create(actor=operator, **fields), actor=operator) for _ in range(2)
    )
    for transfer in (first, second):
        transfer_approve(transfer=transfer, actor=approver)
    transfer_approve(transfer=first, actor=approver2)
    # when: the second reaches its quorum after the first reserved its coins
    with pytest.raises(Conflict, match=r"Wallet cold-01 has 49\.99990000 BTC available"):
        transfer_approve(transfer=second, actor=approver2)
    # then: the approval is not kept
    assert Transfer.objects.get(pk=second.pk).status == "pending_approval"
    assert second.approvals.count() == 1


def test_refusals_and_previews_take_no_transfer_id(
    no_sale: None, operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet
) -> None:
    # given: the register's last transfer
    fund(cold_wallet, 10 * BTC, operator, approver, approver2)
    last = Transfer.objects.order_by("-pk").values_list("pk", flat=True)[0]
    api = APIClient()
    api.force_authenticate(operator)
    admin = Client()
    admin.force_login(operator)
    body = sale(cold_wallet, BTC) | {"source_wallet": cold_wallet.pk}
    # when: previewed (API and admin), refused by the policy (API, admin) and for funds (API)
    assert api.post("/api/v1/policies/evaluate/", body, format="json").status_code == 200
    form: dict[str, Any] = {"direction": "outbound", "category": "sale", "amount_btc": "1", "fee_btc": "0.0001"}
    form |= {"source_wallet": cold_wallet.pk, "external_address": REGTEST_EXTERNAL}
    assert admin.post("/admin/reserve/transfer/add/", form | {"idempotency_key": "a"}).status_code == 200
    denied = api.post("/api/v1/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    refused = admin.post("/admin/reserve/transfer/add/", form | {"idempotency_key": "b", "_submit": "1"})
    overdraft = body | {"category": "return_to_victims", "provenance_reference": "Order 9", "amount_sats": 50 * BTC}
    unpaid = api.post("/api/v1/transfers/", overdraft, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    # then: each refused, its refusal on record (of no stored transfer)
    assert (denied.status_code, refused.status_code, unpaid.status_code) == (409, 400, 409)
    assert unpaid.json()["error"]["code"] == "insufficient_funds"
    assert [row.subject_id for row in PolicyEvaluation.objects.filter(gate="proposal", outcome="deny")] == ["", ""]
    # when: the next transfer drafted
    draft = transfer_create(actor=operator, **sale(cold_wallet, BTC))
    # then: it takes the next number, no gap before it
    assert draft.pk == last + 1
