"""United States: reserve bitcoin is never sold; it leaves only to return it to victims under a
court order, with a larger quorum above 10 BTC. Judged through the transfer services."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import pytest
from django.utils import timezone

from config.errors import Conflict
from ledger.models import PendingTransaction
from ledger.selectors import account_available_balance, account_balance
from policy.errors import PolicyDenied
from policy.models import PolicyBreach, PolicyEvaluation
from policy.services import policy_compliance_report
from policy.types import PolicyScope
from reserve.compliance.facts import ReservePolicyFacts
from reserve.custody.models import Agency, Wallet
from reserve.transfers.models import Transfer
from reserve.transfers.services import (
    transfer_approve,
    transfer_mark_broadcast,
    transfer_mark_reorged,
    transfer_propose,
    transfer_record_observed,
)
from tests.reserve.compliance.scenarios.conftest import (
    BTC,
    People,
    activate_policy,
    approve,
    confirm,
    import_holdings,
    last_evaluation,
    preview_outcome,
    propose,
)
from tests.reserve.conftest import REGTEST_EXTERNAL, fake_hash

FEE_SATS = 5_000
COURT_ORDER = "Court order 1:23-cr-00456, restitution schedule A"
NO_SALE_RULES = [
    {"type": "no_disposal", "params": {"allowed_reasons": ["return_to_victims"], "reference_required": True}},
    {"type": "approval_quorum", "params": {"min_approvals": 2, "tiers": [{"min_sats": 10 * BTC, "min_approvals": 3}]}},
]


@pytest.fixture
def reserve_books(people: People, agency: Agency, cold: Wallet) -> None:
    """200 BTC of forfeited bitcoin, then the no-sale policy over the agency's wallets."""
    now = timezone.now()
    import_holdings(people, [(now - timedelta(days=40), cold, 200 * BTC, 700_000)])
    activate_policy(
        people,
        name="Strategic Bitcoin Reserve",
        scope=PolicyScope("agency", agency.pk),
        rules=NO_SALE_RULES,
        effective_from=now - timedelta(days=30),
    )


def outflow(people: People, wallet: Wallet, *, category: str, sats: int, reference: str = "") -> Transfer:
    return propose(
        people,
        direction="outbound",
        category=category,
        amount_sats=sats,
        fee_sats=FEE_SATS,
        source_wallet=wallet,
        external_address=REGTEST_EXTERNAL,
        provenance_reference=reference,
    )


def line(transfer: Transfer, rule_type: str) -> dict[str, Any]:
    """The line of `rule_type` in the transfer's last stored evaluation."""
    (found,) = [line for line in last_evaluation(transfer).lines if line["rule_type"] == rule_type]
    return found


@pytest.mark.django_db
def test_a_sale_is_denied_whatever_the_approvals(people: People, reserve_books: None, cold: Wallet) -> None:
    # given: a sale of 50 BTC proposed by the operator
    sale = outflow(people, cold, category="sale", sats=50 * BTC, reference=COURT_ORDER)
    # then: refused at the proposal, the stored evaluation saying why; it stays a draft
    assert preview_outcome(sale) == "deny"
    assert line(sale, "no_disposal")["reason"].startswith("A sale may not leave the perimeter")
    assert (sale.status, sale.pending) == ("draft", None)
    # when: the approvers try to approve it anyway
    for approver in people.approvers[:3]:
        with pytest.raises(Conflict, match="it is draft, expected pending_approval"):
            transfer_approve(transfer=sale, actor=approver)
    # ...and the operator proposes it again
    with pytest.raises(PolicyDenied):
        transfer_propose(transfer=sale, actor=people.operator)
    # then: nothing approved, nothing reserved, every refusal on record
    assert not sale.approvals.exists()
    assert list(
        PolicyEvaluation.objects.filter(subject_id=str(sale.pk)).order_by("pk").values_list("gate", "outcome")
    ) == [("proposal", "deny"), ("proposal", "deny")]
    assert account_available_balance(account=cold.ledger_account) == 200 * BTC
    # and it cannot be pushed on towards the chain
    with pytest.raises(Conflict):
        transfer_mark_broadcast(transfer=sale, actor=people.operator, txid=fake_hash("tx:sale"))
    with pytest.raises(Conflict):
        confirm(sale, label="sale", height=700_100, at=timezone.now() - timedelta(hours=1))
    assert account_balance(account=cold.ledger_account) == 200 * BTC


@pytest.mark.django_db
def test_a_sale_approved_before_the_policy_never_posts(people: People, agency: Agency, cold: Wallet) -> None:
    # given: a sale approved (default quorum of two) before the no-sale policy existed
    now = timezone.now()
    import_holdings(people, [(now - timedelta(days=40), cold, 200 * BTC, 700_000)])
    sale = approve(people, outflow(people, cold, category="sale", sats=50 * BTC))
    assert sale.status == "approved"
    assert account_available_balance(account=cold.ledger_account) == 150 * BTC - FEE_SATS
    activate_policy(
        people,
        name="Strategic Bitcoin Reserve",
        scope=PolicyScope("agency", agency.pk),
        rules=NO_SALE_RULES,
        effective_from=now - timedelta(days=30),
    )
    # when: the custodian broadcasts it anyway and the chain confirms it
    transfer_mark_broadcast(transfer=sale, actor=people.operator, txid=fake_hash("tx:sale"))
    with pytest.raises(PolicyDenied) as denied:
        confirm(sale, label="sale", height=700_100, at=now - timedelta(hours=1))
    # then: the posting is refused (an observed outflow is reconciliation's business), nothing is booked
    assert "A sale may not leave the perimeter" in denied.value.message
    assert account_balance(account=cold.ledger_account) == 200 * BTC
    assert Transfer.objects.get(pk=sale.pk).status == "broadcast"
    refusal = PolicyEvaluation.objects.get(subject_id=str(sale.pk), gate="posting")
    assert refusal.outcome == "deny"
    assert refusal.versions[0]["name"] == "Strategic Bitcoin Reserve"


@pytest.mark.django_db
def test_return_to_victims_needs_its_court_order_and_its_quorum(
    people: People, reserve_books: None, cold: Wallet
) -> None:
    # given: a return of 50 BTC without its court order, and the same with it
    unreferenced = outflow(people, cold, category="return_to_victims", sats=50 * BTC)
    restitution = outflow(people, cold, category="return_to_victims", sats=50 * BTC, reference=COURT_ORDER)
    # then: the first is denied for want of its reference, the second only waits for approvals
    assert preview_outcome(unreferenced) == "deny"
    assert "must cite its legal reference" in line(unreferenced, "no_disposal")["reason"]
    assert preview_outcome(restitution) == "needs_approval"
    assert line(restitution, "no_disposal")["verdict"] == "allow"
    quorum = line(restitution, "approval_quorum")
    assert (quorum["required_approvals"], quorum["limit_sats"], quorum["measured_sats"]) == (3, 10 * BTC, 50 * BTC)
    assert (restitution.required_approvals, restitution.required_role) == (3, "approver")
    # when: two approvers approve
    restitution = approve(people, restitution, count=2)
    # then: still waiting, nothing reserved
    assert restitution.status == "pending_approval"
    assert line(restitution, "approval_quorum")["reason"].endswith("2 of 3 given.")
    assert PendingTransaction.objects.count() == 0
    # when: the third approves
    restitution = transfer_approve(transfer=restitution, actor=people.approvers[2])
    # then: approved, amount and fee reserved
    assert restitution.status == "approved"
    assert account_available_balance(account=cold.ledger_account) == 150 * BTC - FEE_SATS
    # when: broadcast and confirmed
    transfer_mark_broadcast(transfer=restitution, actor=people.operator, txid=fake_hash("tx:restitution"))
    restitution = confirm(restitution, label="restitution", height=700_200, at=timezone.now() - timedelta(hours=1))
    # then: posted once, under the policy, with the three approvals counted
    assert restitution.status == "confirmed"
    assert account_balance(account=cold.ledger_account) == 150 * BTC - FEE_SATS
    assert account_available_balance(account=cold.ledger_account) == 150 * BTC - FEE_SATS
    posting = PolicyEvaluation.objects.get(subject_id=str(restitution.pk), gate="posting")
    assert (posting.outcome, posting.approvals_counted, posting.required_approvals) == ("allow", 3, 3)


@pytest.mark.django_db
def test_a_return_below_the_tier_needs_two(people: People, reserve_books: None, cold: Wallet) -> None:
    # given: a return just below the 10 BTC tier, and one exactly at it
    below = outflow(people, cold, category="return_to_victims", sats=10 * BTC - 1, reference=COURT_ORDER)
    at_tier = outflow(people, cold, category="return_to_victims", sats=10 * BTC, reference=COURT_ORDER)
    # when: two approvers approve each
    below, at_tier = approve(people, below), approve(people, at_tier)
    # then: the tier starts at its min_sats
    assert (below.required_approvals, below.status) == (2, "approved")
    assert (at_tier.required_approvals, at_tier.status) == (3, "pending_approval")


@pytest.mark.django_db
def test_an_outflow_signed_outside_the_system_is_a_breach(reserve_books: None, cold: Wallet, vault: Wallet) -> None:
    # when: reconciliation finds 2 BTC that left the reserve without a proposal, and a
    # consolidation between two of its wallets that nobody proposed either
    leak, breaches = transfer_record_observed(
        direction="outbound",
        amount_sats=2 * BTC,
        fee_sats=FEE_SATS,
        txid=fake_hash("tx:leak"),
        vout=0,
        block_height=700_300,
        block_hash=fake_hash("block:700300"),
        occurred_at=timezone.now() - timedelta(hours=1),
        source_wallet=cold,
        external_address=REGTEST_EXTERNAL,
    )
    _, internal_breaches = transfer_record_observed(
        direction="internal",
        amount_sats=BTC,
        fee_sats=FEE_SATS,
        txid=fake_hash("tx:shuffle"),
        vout=0,
        block_height=700_301,
        block_hash=fake_hash("block:700301"),
        occurred_at=timezone.now() - timedelta(minutes=50),
        source_wallet=cold,
        destination_wallet=vault,
    )
    # then: the disposal is booked and raised as a breach of the no-sale rule; the consolidation is not
    assert account_balance(account=cold.ledger_account) == 197 * BTC - 2 * FEE_SATS
    assert [(breach.rule_type, breach.measured_sats, breach.subject_id) for breach in breaches] == [
        ("no_disposal", 2 * BTC, str(leak.pk))
    ]
    assert "without a proposal" in breaches[0].reason
    assert internal_breaches == []
    # and the quorum rule, which only judges proposals, opened nothing
    assert PolicyBreach.objects.count() == 1
    # and the compliance report lists it on its day under the no-sale rule, and only there
    policy = PolicyBreach.objects.get().version.policy
    since = timezone.now() - timedelta(days=2)
    rows = policy_compliance_report(
        version_or_policy=policy, since=since, until=timezone.now() + timedelta(days=1), facts=ReservePolicyFacts()
    )
    assert {row.rule_type for row in rows} == {"no_disposal"}
    assert [(row.day, row.verdict, row.breaches) for row in rows if row.verdict == "deny"] == [
        (breaches[0].occurred_at.astimezone(UTC).date(), "deny", (breaches[0].pk,))
    ]
    assert len(rows) == 4  # one row a day, from two days ago to tomorrow


@pytest.mark.django_db
def test_a_return_dropped_by_a_reorg_is_no_breach(people: People, reserve_books: None, cold: Wallet) -> None:
    # given: an approved return of 5 BTC, confirmed
    restitution = approve(
        people, outflow(people, cold, category="return_to_victims", sats=5 * BTC, reference=COURT_ORDER)
    )
    restitution = confirm(restitution, label="restitution", height=700_400, at=timezone.now() - timedelta(hours=1))
    # when: a reorg drops its block (the ledger reverses it and the continuous rules are re-checked)
    restitution = transfer_mark_reorged(transfer=restitution)
    # then: the sats are back and nothing is a breach: the return was proposed and approved
    assert restitution.status == "reorged"
    assert account_balance(account=cold.ledger_account) == 200 * BTC
    recheck = PolicyEvaluation.objects.get(gate="observed", subject_id=str(restitution.pk))
    assert recheck.outcome == "allow"
    assert PolicyBreach.objects.count() == 0
