"""El Salvador: a continuous ceiling on net accumulation (the IMF programme) over two perimeter
wallets holding 6,000 BTC, judged through the reserve's transfer services on real PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from config.errors import PermissionDenied, ValidationFailed
from ledger.selectors import account_available_balance, account_balance
from policy.errors import PolicyDenied
from policy.models import PolicyBreach, PolicyEvaluation, PolicyVersion
from policy.services import policy_breach_resolve, policy_compliance_report, policy_create_draft, policy_evaluate
from policy.types import PolicyScope
from reserve.compliance.changes import transfer_change
from reserve.compliance.facts import ReservePolicyFacts
from reserve.custody.models import Wallet
from reserve.transfers.models import Transfer
from reserve.transfers.preview import transfer_policy_preview
from reserve.transfers.services import transfer_record_observed
from tests.reserve.compliance.scenarios.conftest import (
    BTC,
    People,
    activate_policy,
    approve,
    confirm,
    import_holdings,
    preview_outcome,
    propose,
)
from tests.reserve.compliance.scenarios.conftest import (
    last_evaluation as latest_evaluation,
)
from tests.reserve.conftest import fake_hash

FEE_SATS = 20_000  # 0.0002 BTC
PERIMETER = PolicyScope("perimeter")
IMF_RULES = [
    {"type": "no_net_accumulation", "params": {"baseline_sats": 6_000 * BTC}},
    {
        "type": "allowed_sources",
        "params": {
            "categories": ["forfeiture", "civil_penalty", "purchase", "mining_reward", "donation"],
            "reference_required": ["forfeiture", "civil_penalty"],
        },
    },
]


@dataclass
class Books:
    """The moments of the scenario, all in the past so that live gates (judged now) see them."""

    start: datetime

    def days_ago(self, days: float) -> datetime:
        return self.start - timedelta(days=days)


def holdings() -> int:
    return ReservePolicyFacts().holdings_sats(scope=PERIMETER)


def ceiling_line(evaluation: PolicyEvaluation) -> dict:
    (line,) = [line for line in evaluation.lines if line["rule_type"] == "no_net_accumulation"]
    return line


def last_evaluation(transfer: Transfer, gate: str) -> PolicyEvaluation:
    return PolicyEvaluation.objects.filter(subject_type="reserve.transfer", subject_id=str(transfer.pk), gate=gate)[0]


def preview_line(transfer: Transfer, rule_type: str = "no_net_accumulation") -> dict:
    """The line of `rule_type` in the transfer's last stored evaluation."""
    (line,) = [line for line in latest_evaluation(transfer).lines if line["rule_type"] == rule_type]
    return line


def baseline_books(people: People, cold: Wallet, vault: Wallet, books: Books) -> None:
    import_holdings(
        people,
        [(books.days_ago(30), cold, 3_500 * BTC, 800_000), (books.days_ago(29), vault, 2_500 * BTC, 800_001)],
    )


def purchase_approved_before_the_ceiling(people: People, cold: Wallet) -> Transfer:
    purchase = propose(
        people,
        direction="inbound",
        category="purchase",
        amount_sats=BTC,
        destination_wallet=cold,
        provenance_reference="Purchase contract 7",
    )
    return approve(people, purchase)


def adopt_the_ceiling(people: People, books: Books) -> PolicyVersion:
    return activate_policy(
        people, name="IMF programme", scope=PERIMETER, rules=IMF_RULES, effective_from=books.days_ago(20)
    )


def consolidate(people: People, cold: Wallet, vault: Wallet, books: Books) -> Transfer:
    consolidation = propose(
        people,
        direction="internal",
        category="internal_consolidation",
        amount_sats=500 * BTC,
        fee_sats=FEE_SATS,
        source_wallet=cold,
        destination_wallet=vault,
    )
    return approve(people, consolidation)


def receive_forfeiture(people: People, vault: Wallet, books: Books) -> Transfer:
    forfeiture = propose(
        people,
        direction="inbound",
        category="forfeiture",
        amount_sats=10 * BTC,
        destination_wallet=vault,
        provenance_reference="Forfeiture order FO-2026-0042",
    )
    forfeiture = approve(people, forfeiture)
    return confirm(forfeiture, label="forfeiture", height=860_000, at=books.days_ago(5))


def buy_within_the_fee_room(people: People, cold: Wallet, books: Books) -> Transfer:
    purchase = propose(
        people,
        direction="inbound",
        category="purchase",
        amount_sats=FEE_SATS,
        destination_wallet=cold,
        provenance_reference="Purchase contract 9",
    )
    return confirm(approve(people, purchase), label="small-purchase", height=865_000, at=books.days_ago(2))


def observe_donation(cold: Wallet, books: Books) -> tuple[Transfer, list[PolicyBreach]]:
    return transfer_record_observed(
        direction="inbound",
        amount_sats=BTC // 2,
        txid=fake_hash("tx:donation"),
        vout=1,
        block_height=870_000,
        block_hash=fake_hash("block:870000"),
        occurred_at=books.days_ago(1),
        destination_wallet=cold,
        category="donation",
    )


@pytest.mark.django_db
def test_el_salvador_ceiling_end_to_end(people: People, cold: Wallet, vault: Wallet) -> None:
    books = Books(timezone.now())
    # given: 6,000 BTC settled on two perimeter wallets, a purchase approved before the ceiling
    # was adopted, then the ceiling (baseline 6,000 BTC) approved by two policy admins
    baseline_books(people, cold, vault, books)
    early_purchase = purchase_approved_before_the_ceiling(people, cold)
    assert early_purchase.status == "approved"
    version = adopt_the_ceiling(people, books)
    assert holdings() == 6_000 * BTC

    # when: 500 BTC are consolidated from cold to vault with a 0.0002 BTC fee
    consolidation = consolidate(people, cold, vault, books)
    # then: the preview calls it neutral, the quorum approves and the amount + fee are reserved
    line = preview_line(consolidation)
    assert (line["verdict"], line["measured_sats"], line["limit_sats"]) == (
        "allow",
        6_000 * BTC - FEE_SATS,
        6_000 * BTC,
    )
    assert "neutral movement" in line["reason"]
    assert consolidation.status == "approved"
    assert account_available_balance(account=cold.ledger_account) == 3_000 * BTC - FEE_SATS
    # when: the chain confirms it
    consolidation = confirm(consolidation, label="consolidation", height=850_000, at=books.days_ago(10))
    # then: posted, and the perimeter holds exactly 20,000 sats less
    assert consolidation.status == "confirmed"
    assert last_evaluation(consolidation, "posting").outcome == "allow"
    assert holdings() == 6_000 * BTC - FEE_SATS
    assert account_balance(account=cold.ledger_account) == 3_000 * BTC - FEE_SATS
    assert account_balance(account=vault.ledger_account) == 3_000 * BTC

    # when: the purchase approved before the ceiling reaches the chain
    with pytest.raises(PolicyDenied) as denied:
        confirm(early_purchase, label="early-purchase", height=851_000, at=books.days_ago(9))
    # then: refused at posting, nothing booked, the refusal stored with its numbers
    assert holdings() == 6_000 * BTC - FEE_SATS
    assert Transfer.objects.get(pk=early_purchase.pk).status == "approved"
    refusal = last_evaluation(early_purchase, "posting")
    assert refusal.outcome == "deny"
    assert (ceiling_line(refusal)["measured_sats"], ceiling_line(refusal)["limit_sats"]) == (
        6_001 * BTC - FEE_SATS,
        6_000 * BTC,
    )
    assert "would exceed the ceiling by 0.99980000 BTC" in denied.value.message

    # when: a new purchase of 1 BTC is proposed and approved by two approvers
    purchase = propose(
        people,
        direction="inbound",
        category="purchase",
        amount_sats=BTC,
        destination_wallet=cold,
        provenance_reference="Purchase contract 8",
    )
    # then: refused at the proposal (it stays a draft, never queued for approvals), the stored
    # evaluation saying why
    line = preview_line(purchase)
    assert (line["verdict"], line["measured_sats"], line["limit_sats"]) == ("deny", 6_001 * BTC - FEE_SATS, 6_000 * BTC)
    assert preview_outcome(purchase) == "deny"
    assert (purchase.status, purchase.pending) == ("draft", None)
    assert last_evaluation(purchase, "proposal").outcome == "deny"
    assert not PolicyEvaluation.objects.filter(subject_id=str(purchase.pk), gate="approval").exists()

    # when: a forfeiture is proposed without its order, and another with it
    unreferenced = propose(
        people, direction="inbound", category="forfeiture", amount_sats=10 * BTC, destination_wallet=vault
    )
    forfeiture = receive_forfeiture(people, vault, books)
    # then: the first is refused by allowed_sources; the second posts and raises the ceiling by 10 BTC
    assert preview_outcome(unreferenced) == "deny"
    assert preview_line(unreferenced, "allowed_sources")["verdict"] == "deny"
    assert preview_line(unreferenced)["verdict"] == "allow"
    assert forfeiture.status == "confirmed"
    posting = ceiling_line(last_evaluation(forfeiture, "posting"))
    assert (posting["verdict"], posting["measured_sats"], posting["limit_sats"]) == (
        "allow",
        6_010 * BTC - FEE_SATS,
        6_010 * BTC,
    )
    assert holdings() == 6_010 * BTC - FEE_SATS

    # then: the raised ceiling leaves room for exactly the 20,000 sats the fee burnt, not for 1 BTC
    again = transfer_policy_preview(transfer=Transfer.objects.get(pk=purchase.pk))
    assert (again.outcome, again.lines[0].measured_sats, again.lines[0].limit_sats) == (
        "deny",
        6_011 * BTC - FEE_SATS,
        6_010 * BTC,
    )
    one_sat_over = propose(
        people, direction="inbound", category="purchase", amount_sats=FEE_SATS + 1, destination_wallet=cold
    )
    line = preview_line(one_sat_over)
    assert (line["verdict"], line["measured_sats"], line["limit_sats"]) == ("deny", 6_010 * BTC + 1, 6_010 * BTC)
    small_purchase = buy_within_the_fee_room(people, cold, books)
    assert small_purchase.status == "confirmed"
    assert holdings() == 6_010 * BTC

    # when: a donation of 0.5 BTC that nobody proposed is seen on chain
    donation, breaches = observe_donation(cold, books)
    # then: booked as observed, and a breach of the ceiling is opened at its block
    assert (donation.status, donation.observed) == ("confirmed", True)
    assert holdings() == 6_010 * BTC + BTC // 2
    assert [(breach.rule_type, breach.version_id, breach.status) for breach in breaches] == [
        ("no_net_accumulation", version.pk, "open")
    ]
    breach = breaches[0]
    assert (breach.measured_sats, breach.limit_sats) == (6_010 * BTC + BTC // 2, 6_010 * BTC)
    assert (breach.block_height, breach.subject_id, breach.occurred_at) == (
        870_000,
        str(donation.pk),
        books.days_ago(1),
    )
    assert "above the ceiling" in breach.reason
    # and a second sighting of the same output opens nothing new
    replay, replay_breaches = observe_donation(cold, books)
    assert (replay.pk, replay_breaches) == (donation.pk, [])
    assert PolicyBreach.objects.count() == 1


@pytest.mark.django_db
def test_a_baseline_taken_at_a_block_gives_the_same_ceiling(people: People, cold: Wallet, vault: Wallet) -> None:
    # given: the same 6,000 BTC, and a draft whose baseline is the holdings booked at block 800,001
    books = Books(timezone.now())
    baseline_books(people, cold, vault, books)
    draft = policy_create_draft(
        name="IMF programme (baseline at a block)",
        scope=PERIMETER,
        rules=[{"type": "no_net_accumulation", "params": {"baseline_height": 800_001}}],
        effective_from=books.days_ago(20),
        author=people.policy_admins[0],
    )
    purchase = propose(people, direction="inbound", category="purchase", amount_sats=BTC, destination_wallet=cold)
    stored = PolicyEvaluation.objects.count()
    # when: a purchase is dry-run against the draft
    decision = policy_evaluate(change=transfer_change(purchase), facts=ReservePolicyFacts(), versions=[draft])
    # then
    assert (decision.outcome, decision.lines[0].measured_sats, decision.lines[0].limit_sats) == (
        "deny",
        6_001 * BTC,
        6_000 * BTC,
    )
    # and from a block before the second wallet was funded, its funding (a forfeiture) is exempt
    earlier = policy_create_draft(
        name="IMF programme (baseline at a block)",
        scope=PERIMETER,
        rules=[{"type": "no_net_accumulation", "params": {"baseline_height": 800_000}}],
        effective_from=books.days_ago(20),
        author=people.policy_admins[0],
    )
    decision = policy_evaluate(change=transfer_change(purchase), facts=ReservePolicyFacts(), versions=[earlier])
    assert decision.lines[0].limit_sats == 6_000 * BTC
    assert "(baseline 3,500.00000000 BTC + exempt inflows 2,500.00000000 BTC)" in decision.lines[0].reason
    # and dry runs store nothing, nor make the drafts law
    assert PolicyEvaluation.objects.count() == stored
    assert transfer_policy_preview(transfer=purchase).outcome == "needs_approval"


@pytest.mark.django_db
def test_compliance_report_lists_the_breach(people: People, cold: Wallet, vault: Wallet) -> None:
    # given: the scenario's books, from the baseline to the observed donation
    books = Books(timezone.now())
    baseline_books(people, cold, vault, books)
    version = adopt_the_ceiling(people, books)
    confirm(consolidate(people, cold, vault, books), label="consolidation", height=850_000, at=books.days_ago(10))
    receive_forfeiture(people, vault, books)
    buy_within_the_fee_room(people, cold, books)
    _, (breach,) = observe_donation(cold, books)
    # when: the report runs from a day before the ceiling took effect until now
    rows = policy_compliance_report(
        version_or_policy=version.policy, since=books.days_ago(21), until=books.start, facts=ReservePolicyFacts()
    )
    # then: the continuous rule reports at every change of holdings and once a day; allowed
    # sources, which also judges inflows nobody proposed, once a day (the donation is allowed)
    assert {(row.rule_type, row.version) for row in rows} == {("no_net_accumulation", 1), ("allowed_sources", 1)}
    assert all(row.verdict == "allow" and row.kind == "day" for row in rows if row.rule_type == "allowed_sources")
    rows = [row for row in rows if row.rule_type == "no_net_accumulation"]
    changes = [
        (row.at, row.block_height, row.measured_sats, row.limit_sats, row.verdict)
        for row in rows
        if row.kind == "change"
    ]
    assert changes == [
        (books.days_ago(10), 850_000, 6_000 * BTC - FEE_SATS, 6_000 * BTC, "allow"),
        (books.days_ago(5), 860_000, 6_010 * BTC - FEE_SATS, 6_010 * BTC, "allow"),
        (books.days_ago(2), 865_000, 6_010 * BTC, 6_010 * BTC, "allow"),
        (books.days_ago(1), 870_000, 6_010 * BTC + BTC // 2, 6_010 * BTC, "deny"),
    ]
    days = [row for row in rows if row.kind == "day"]
    breach_day = books.days_ago(1).astimezone(UTC).date()
    assert days[0].day == books.days_ago(20).astimezone(UTC).date()
    assert days[-1].day == books.start.astimezone(UTC).date()
    assert [row.breaches for row in days if row.breaches] == [(breach.pk,)]
    (listed,) = [row for row in days if row.breaches]
    assert (listed.day, listed.verdict, listed.worst_margin_sats) == (breach_day, "deny", -(BTC // 2))
    assert all(row.verdict == "allow" for row in days if row.day < breach_day)
    assert all(row.verdict == "deny" and row.margin_sats == -(BTC // 2) for row in days if row.day >= breach_day)
    assert min(row.worst_margin_sats or 0 for row in days if row.day < breach_day) == 0
    # when: an approver tries to close the breach, then a policy admin closes it with a reason
    with pytest.raises(PermissionDenied):
        policy_breach_resolve(breach=breach, reason="gift", actor=people.approvers[0])
    with pytest.raises(ValidationFailed):
        policy_breach_resolve(breach=breach, reason="  ", actor=people.policy_admins[1])
    resolved = policy_breach_resolve(
        breach=breach, reason="Donation returned to sender, see transfer 42", actor=people.policy_admins[1]
    )
    # then: it is resolved by that admin, and the report of the period still lists it
    assert (resolved.status, resolved.resolved_by_id) == ("resolved", people.policy_admins[1].pk)
    again = policy_compliance_report(
        version_or_policy=version.policy, since=books.days_ago(21), until=books.start, facts=ReservePolicyFacts()
    )
    assert [row.breaches for row in again if row.breaches] == [(breach.pk,)]


@pytest.mark.django_db
def test_a_forfeiture_stamped_ahead_of_the_clock_raises_the_ceiling_at_once(
    people: People, cold: Wallet, vault: Wallet
) -> None:
    # given: the ceiling over 6,000 BTC, and a forfeiture of 10 BTC mined in a block whose time
    # runs 10 minutes ahead of our clock
    books = Books(timezone.now())
    baseline_books(people, cold, vault, books)
    adopt_the_ceiling(people, books)
    forfeiture = approve(
        people,
        propose(
            people,
            direction="inbound",
            category="forfeiture",
            amount_sats=10 * BTC,
            destination_wallet=vault,
            provenance_reference="Forfeiture order FO-2026-0077",
        ),
    )
    confirm(forfeiture, label="ahead", height=860_000, at=books.start + timedelta(minutes=10))
    # when: a purchase of 1 BTC is proposed right after
    purchase = propose(people, direction="inbound", category="purchase", amount_sats=BTC, destination_wallet=cold)
    # then: the forfeiture is booked, so it counts as exempt: 6,010 BTC held against 6,010 BTC
    line = preview_line(purchase)
    assert (line["measured_sats"], line["limit_sats"]) == (6_011 * BTC, 6_010 * BTC)


@pytest.mark.django_db
def test_detection_at_a_block_counts_the_exempt_inflows_of_earlier_blocks(
    people: People, cold: Wallet, vault: Wallet
) -> None:
    # given: the ceiling, a consolidation that burnt 20,000 sats, and a forfeiture of 10 BTC at
    # block 860,000 stamped 10 minutes after the time of block 860,001 (block times need not
    # increase)
    books = Books(timezone.now())
    baseline_books(people, cold, vault, books)
    adopt_the_ceiling(people, books)
    confirm(consolidate(people, cold, vault, books), label="consolidation", height=850_000, at=books.days_ago(10))
    forfeiture = approve(
        people,
        propose(
            people,
            direction="inbound",
            category="forfeiture",
            amount_sats=10 * BTC,
            destination_wallet=vault,
            provenance_reference="Forfeiture order FO-2026-0078",
        ),
    )
    confirm(forfeiture, label="forfeiture", height=860_000, at=books.days_ago(3) + timedelta(minutes=10))
    # when: 10,000 sats nobody proposed arrive in block 860,001
    _, breaches = transfer_record_observed(
        direction="inbound",
        amount_sats=10_000,
        txid=fake_hash("tx:dust"),
        vout=0,
        block_height=860_001,
        block_hash=fake_hash("block:860001"),
        occurred_at=books.days_ago(3),
        destination_wallet=cold,
        category="donation",
    )
    # then: at that block the perimeter holds 6,010 BTC - 10,000 sats against 6,010 BTC: no breach
    assert breaches == []
    observed = PolicyEvaluation.objects.get(gate="observed")
    assert (ceiling_line(observed)["measured_sats"], ceiling_line(observed)["limit_sats"]) == (
        6_010 * BTC - 10_000,
        6_010 * BTC,
    )
