"""The perimeter is not an operator's checkbox: the issue's "untick, sell, tick back" is impossible,
a move to a government wallet outside the perimeter leaves it, and legitimate (approved) membership
changes are judged by the membership then in force, in the policy and in the holdings reports."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest

from config.errors import Conflict
from ledger.selectors import account_balance
from policy.types import PolicyScope
from reserve.custody.membership import membership_approve, membership_propose
from reserve.custody.models import Agency, Wallet, WalletMembership
from reserve.reports.holdings import holdings_report
from reserve.transfers.models import Transfer
from reserve.transfers.services import transfer_approve, transfer_record_observed
from tests.reserve.compliance.scenarios.conftest import (
    BTC,
    Clock,
    People,
    activate_policy,
    approve,
    confirm,
    import_holdings,
    last_evaluation,
    preview_outcome,
    propose,
)
from tests.reserve.compliance.scenarios.test_cap_race import all_at_once
from tests.reserve.conftest import REGTEST_EXTERNAL, TPUB_B, TPUB_C, fake_hash, register

pytestmark = pytest.mark.django_db
NO_SALE = [{"type": "no_disposal", "params": {"allowed_reasons": ["return_to_victims"], "reference_required": False}}]


@pytest.fixture
def side(people: People, agency: Agency) -> Wallet:
    """A government wallet outside the perimeter."""
    return register(people.operator, agency, "side-03", TPUB_C, in_perimeter=False)


@pytest.fixture
def books(people: People, clock: Clock, cold: Wallet) -> None:
    import_holdings(people, [(clock.now - timedelta(days=40), cold, 100 * BTC, 700_000)])
    activate_policy(
        people,
        name="No sale",
        scope=PolicyScope("perimeter"),
        rules=NO_SALE,
        effective_from=clock.now - timedelta(days=30),
    )


def _line(transfer: Transfer, rule_type: str) -> dict[str, str]:
    """The line of `rule_type` in the transfer's last stored evaluation."""
    (found,) = [line for line in last_evaluation(transfer).lines if line["rule_type"] == rule_type]
    return found


def test_untick_sell_tick_back_is_impossible(people: People, books: None, cold: Wallet) -> None:
    # given: an operator proposes to take the wallet holding 100 BTC out of the perimeter
    proposal = membership_propose(wallet=cold, actor=people.operator, in_perimeter=False, reason="to sell")
    # when: even an approver agrees, the wallet still holds bitcoin: refused
    with pytest.raises(Conflict, match="move them with a transfer"):
        membership_approve(membership=proposal, actor=people.approvers[0])
    # then: the wallet is still in the perimeter, and the sale is judged (and denied) there
    assert Wallet.objects.get(pk=cold.pk).in_perimeter is True
    sale = propose(
        people,
        direction="outbound",
        category="sale",
        amount_sats=10 * BTC,
        fee_sats=1_000,
        source_wallet=cold,
        external_address=REGTEST_EXTERNAL,
    )
    assert preview_outcome(sale) == "deny"
    assert sale.status == "draft"  # refused at proposal, never queued
    assert account_balance(account=cold.ledger_account) == 100 * BTC
    assert WalletMembership.objects.filter(wallet=cold, status="approved").count() == 1


def test_a_move_to_a_government_wallet_outside_the_perimeter_leaves_it(
    people: People, books: None, cold: Wallet, side: Wallet
) -> None:
    move = propose(
        people,
        direction="internal",
        category="internal_consolidation",
        amount_sats=10 * BTC,
        fee_sats=1_000,
        source_wallet=cold,
        destination_wallet=side,
    )
    assert preview_outcome(move) == "deny"
    assert _line(move, "no_disposal")["reason"].startswith("A internal consolidation may not leave the perimeter")
    assert move.status == "draft"  # refused at proposal, never queued
    assert account_balance(account=side.ledger_account) == 0


def test_approved_changes_are_judged_by_the_membership_then_in_force(
    people: People, clock: Clock, books: None, cold: Wallet, agency: Agency
) -> None:
    # given: hop held 5 BTC inside the perimeter, then consolidated them into cold
    hop = register(people.operator, agency, "hop-04", TPUB_B, fingerprint="b8688df1")
    start = clock.now
    import_holdings(people, [(start - timedelta(days=20), hop, 5 * BTC, 700_010)])
    consolidation = approve(
        people,
        propose(
            people,
            direction="internal",
            category="internal_consolidation",
            amount_sats=5 * BTC - 1_000,
            fee_sats=1_000,
            source_wallet=hop,
            destination_wallet=cold,
        ),
    )
    confirm(consolidation, label="consolidate", height=700_020, at=start - timedelta(hours=2))
    # when: an approved change takes the empty hop out of the perimeter
    clock.set(start + timedelta(minutes=1))
    changed = membership_approve(
        membership=membership_propose(wallet=hop, actor=people.operator, in_perimeter=False, reason="Decree 7"),
        actor=people.approvers[0],
    )
    assert changed.effective_from == clock.now
    # then: holdings as of before the change still count hop's 5 BTC in the perimeter (not restated)
    past = holdings_report(at=start - timedelta(days=10))
    (row,) = [row for row in past.rows if row.wallet_id == hop.pk]
    assert (row.in_perimeter, row.balance_sats) == (True, 5 * BTC)
    assert past.perimeter_sats == 105 * BTC
    inside_then = holdings_report(at=start - timedelta(days=10), in_perimeter=True)
    assert hop.pk in {row.wallet_id for row in inside_then.rows}
    by_height = holdings_report(height=700_010, in_perimeter=True)
    assert by_height.perimeter_sats == 105 * BTC
    # and now hop stands outside
    (now_row,) = [row for row in holdings_report().rows if row.wallet_id == hop.pk]
    assert now_row.in_perimeter is False
    # a sale from hop, after it left (with bitcoin that arrived outside the perimeter), leaves no perimeter
    clock.set(start + timedelta(minutes=5))
    transfer_record_observed(
        direction="inbound",
        category="purchase",
        amount_sats=BTC,
        txid=fake_hash("tx:outside"),
        vout=0,
        block_height=700_030,
        block_hash=fake_hash("block:700030"),
        occurred_at=start + timedelta(minutes=2),
        destination_wallet=hop,
    )
    sale = propose(
        people,
        direction="outbound",
        category="sale",
        amount_sats=BTC // 2,
        fee_sats=1_000,
        source_wallet=hop,
        external_address=REGTEST_EXTERNAL,
    )
    assert preview_outcome(sale) != "deny"
    assert sale.policy_preview is not None
    assert "no_disposal" not in {line["rule_type"] for line in sale.policy_preview["lines"]}


@pytest.mark.django_db(transaction=True)
def test_a_membership_change_racing_a_transfer_into_the_wallet_never_both_pass(
    people: People, clock: Clock, books: None, cold: Wallet, agency: Agency
) -> None:
    # given: an empty perimeter wallet, a move into it approved once, and a proposal to take it out
    hop = register(people.operator, agency, "hop-04", TPUB_B, fingerprint="b8688df1")
    move = approve(
        people,
        propose(
            people,
            direction="internal",
            category="internal_consolidation",
            amount_sats=10 * BTC,
            fee_sats=1_000,
            source_wallet=cold,
            destination_wallet=hop,
        ),
        count=1,
    )
    proposal = membership_propose(wallet=hop, actor=people.operator, in_perimeter=False, reason="Decree 9")
    # when: the move's last approval and the membership's approval arrive at once
    approved, changed = all_at_once(
        [
            partial(transfer_approve, transfer=move, actor=people.approvers[1]),
            partial(membership_approve, membership=proposal, actor=people.approvers[2]),
        ]
    )
    # then: the move was judged inside the perimeter and approved; the membership waits for it
    assert isinstance(changed, Conflict) and changed.fields == {"wallet": ["has transfers in flight"]}
    assert not isinstance(approved, Exception) and approved.status == "approved"
    assert Wallet.objects.get(pk=hop.pk).in_perimeter is True
    assert WalletMembership.objects.get(pk=proposal.pk).status == "proposed"
