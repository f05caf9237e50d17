"""Involuntary inflows, maker-checker: an operator proposes that an inflow nobody proposed be
classed as dust (or a donation, a fork), with the reason; only another person's approval changes
its category, and only then does a rule that exempts the category count it as exempt."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from config.errors import Conflict, PermissionDenied, ValidationFailed
from policy.rules.base import END_OF_BOOKS
from policy.types import PolicyScope
from reserve.audit.models import AuditEvent
from reserve.compliance.facts import ReservePolicyFacts
from reserve.outbox.models import OutboxMessage
from reserve.reports.holdings import holdings_report
from reserve.transfers.involuntary import involuntary_mark_approve, involuntary_mark_propose, involuntary_mark_reject
from reserve.transfers.models import InvoluntaryMark, Transfer
from reserve.transfers.services import transfer_create, transfer_record_observed
from tests.race import race
from tests.users import make_user

pytestmark = pytest.mark.django_db
SEEN = datetime(2026, 2, 1, tzinfo=UTC)
# a private key pasted as the reason: refused, as in every free text (docs/SECURITY.md, way 7)
XPRV = "xprv9s21ZrQH143K31xYSDQpPDxsXRTUcvj2iNHm5NUtrGiGG5e2DtALGdso3pGz6ssrdK4PFmM8NSpSBHNqPqm55Qn3LqFtT2emdEXVYsCzC2U"


def _seen(wallet: Any, amount_sats: int = 546, vout: int = 0) -> Transfer:
    transfer, _ = transfer_record_observed(
        direction="inbound",
        amount_sats=amount_sats,
        txid="cd" * 32,
        vout=vout,
        block_height=200,
        block_hash="ef" * 32,
        occurred_at=SEEN,
        destination_wallet=wallet,
    )
    return transfer


def _exempt(categories: list[str]) -> int:
    return ReservePolicyFacts().exempt_inflows_sats(
        scope=PolicyScope("perimeter"), since=None, since_height=None, until=SEEN, categories=categories
    )


def _category(transfer: Transfer) -> str:
    return Transfer.objects.get(pk=transfer.pk).category


def _marked(transfer: Transfer, category: str, *, proposer: Any, approver: Any) -> Transfer:
    mark = involuntary_mark_propose(transfer=transfer, category=category, reason="unsolicited", actor=proposer)
    involuntary_mark_approve(mark=mark, actor=approver)
    return Transfer.objects.get(pk=transfer.pk)


def test_a_proposal_alone_changes_nothing_and_a_second_persons_approval_makes_it_exempt(
    operator, approver, cold_wallet
) -> None:
    # given: a donation-sized inflow nobody proposed, and a rule exempting donations
    transfer = _seen(cold_wallet, amount_sats=5_000_000)
    approver.email, operator.email = "ana@example.test", "olga@example.test"
    approver.save()
    operator.save()

    # when: the operator proposes it as a donation
    mark = involuntary_mark_propose(
        transfer=transfer, category="donation", reason="gift to the published address", actor=operator
    )

    # then: the transfer is as it was, the rule still counts it, and the approvers are told
    assert (mark.status, _category(transfer), _exempt(["donation"])) == ("proposed", "other", 0)
    assert AuditEvent.objects.filter(action="transfer.mark_involuntary.propose", object_id=str(mark.pk)).count() == 1
    (email,) = OutboxMessage.objects.filter(task_name="reserve.notify_email_task")
    subject, _, recipients = email.args
    assert (subject, recipients) == (f"Waiting for your approval: involuntary mark {mark.pk}", ["ana@example.test"])

    # when: another person approves
    approved = involuntary_mark_approve(mark=mark, actor=approver, comment="donor letter on file")

    # then: classed, exempt, and both decisions audited with who made them
    assert (approved.status, approved.decided_by_id, _category(transfer)) == ("approved", approver.pk, "donation")
    assert _exempt(["donation"]) == 5_000_000
    event = AuditEvent.objects.get(action="transfer.mark_involuntary", object_id=str(transfer.pk))
    before, after = event.before or {}, event.after or {}
    assert (before["category"], after["category"], after["reason"], after["proposed_by"], event.actor_id) == (
        "other",
        "donation",
        "gift to the published address",
        operator.pk,
        approver.pk,
    )
    assert AuditEvent.objects.filter(action="transfer.mark_involuntary.approved", object_id=str(mark.pk)).exists()


def test_the_proposer_never_approves_their_own_mark(operator, cold_wallet) -> None:
    # given: one person holding both the operator's and the approver's permissions
    both = make_user("bea", "operator", "approver", staff=True)
    transfer = _seen(cold_wallet)
    mark = involuntary_mark_propose(transfer=transfer, category="donation", reason="gift", actor=both)

    for decide in (involuntary_mark_approve, involuntary_mark_reject):
        with pytest.raises(PermissionDenied) as refused:
            decide(mark=mark, actor=both)
        assert "approver" in refused.value.fields
    with pytest.raises(PermissionDenied):  # an operator lacks reserve.approve_transfer
        involuntary_mark_approve(mark=mark, actor=operator)
    assert (InvoluntaryMark.objects.get(pk=mark.pk).status, _category(transfer)) == ("proposed", "other")


def test_a_refused_proposal_names_its_field_and_keeps_nothing(operator, auditor, cold_wallet) -> None:
    transfer = _seen(cold_wallet)
    with pytest.raises(PermissionDenied):
        involuntary_mark_propose(transfer=transfer, category="dust", reason="546 sats", actor=auditor)
    refusals = (("purchase", "546 sats", "category"), ("dust", " ", "reason"), ("dust", f"key {XPRV}", "reason"))
    for category, reason, field in refusals:
        with pytest.raises(ValidationFailed) as refused:
            involuntary_mark_propose(transfer=transfer, category=category, reason=reason, actor=operator)
        assert field in refused.value.fields
    assert not InvoluntaryMark.objects.exists()
    assert _category(transfer) == "other"


def test_one_open_mark_per_transfer_and_a_marked_transfer_stays_marked(
    operator, operator2, approver, cold_wallet
) -> None:
    transfer = _seen(cold_wallet)
    first = involuntary_mark_propose(transfer=transfer, category="dust", reason="546 sats", actor=operator)
    with pytest.raises(Conflict) as refused:
        involuntary_mark_propose(transfer=transfer, category="donation", reason="gift", actor=operator2)
    assert "transfer" in refused.value.fields

    # a rejected mark leaves the transfer as it was, and open to a new proposal
    involuntary_mark_reject(mark=first, actor=approver, comment="it is a purchase")
    assert _category(transfer) == "other"
    with pytest.raises(Conflict):
        involuntary_mark_approve(mark=first, actor=approver)
    second = involuntary_mark_propose(transfer=transfer, category="dust", reason="546 sats", actor=operator2)
    involuntary_mark_approve(mark=second, actor=approver)

    # once marked, the category is permanent: no further mark is proposed
    with pytest.raises(Conflict) as refused:
        involuntary_mark_propose(transfer=transfer, category="donation", reason="gift", actor=operator)
    assert "transfer" in refused.value.fields
    assert _category(transfer) == "dust"


def test_a_proposed_inflow_keeps_the_category_it_was_approved_with(operator, cold_wallet) -> None:
    proposed = transfer_create(
        actor=operator, direction="inbound", category="purchase", amount_sats=1_000, destination_wallet=cold_wallet
    )
    with pytest.raises(Conflict):
        involuntary_mark_propose(transfer=proposed, category="donation", reason="gift", actor=operator)
    assert Transfer.objects.get(pk=proposed.pk).category == "purchase"


def test_holdings_are_reported_with_and_without_involuntary_inflows(operator, approver, cold_wallet) -> None:
    dust = _seen(cold_wallet)
    _seen(cold_wallet, amount_sats=1_000, vout=1)
    _marked(dust, "dust", proposer=operator, approver=approver)
    totals = [holdings_report(involuntary=choice).total_sats for choice in (None, False, True)]
    assert totals == [1_546, 1_000, 546]
    by_category = holdings_report(group_by="category", involuntary=False)
    assert [(row.key, row.balance_sats) for row in by_category.rows] == [("other", 1_000)]


def test_a_marked_inflow_counts_in_category_limits_by_its_new_tag(operator, approver, cold_wallet) -> None:
    # a limit on inflows of a category reads the tag the mark corrected, not the lot made before
    dust = _marked(_seen(cold_wallet), "dust", proposer=operator, approver=approver)

    def inflows(categories: list[str]) -> int:
        return ReservePolicyFacts().flow_sats(
            scope=PolicyScope("perimeter"), direction="inbound", since=SEEN, until=END_OF_BOOKS, categories=categories
        )

    assert dust.category == "dust"
    assert (inflows(["dust"]), inflows(["other"])) == (546, 0)


@pytest.mark.django_db(transaction=True)
def test_two_proposals_at_once_leave_one_open_mark(operator, operator2, cold_wallet) -> None:
    transfer = _seen(cold_wallet)
    results = race(
        lambda: involuntary_mark_propose(transfer=transfer, category="dust", reason="546 sats", actor=operator),
        lambda: involuntary_mark_propose(transfer=transfer, category="donation", reason="gift", actor=operator2),
        catch=Conflict,
    )
    assert sorted(type(result).__name__ for result in results) == ["Conflict", "InvoluntaryMark"]
    assert InvoluntaryMark.objects.filter(transfer=transfer).count() == 1
    assert _category(transfer) == "other"
