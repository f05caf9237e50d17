"""The policy engine at the transfer's gates: a cap refuses the posting that would breach it,
and an unproposed inflow that breaches it opens a breach (detective mode)."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from ledger.selectors import account_balance
from policy.errors import PolicyDenied
from policy.models import PolicyEvaluation
from policy.services import policy_approve, policy_create_draft
from policy.types import PolicyScope
from reserve.compliance.facts import ReservePolicyFacts
from reserve.custody.models import Wallet
from reserve.transfers.models import Transfer
from reserve.transfers.preview import transfer_policy_preview
from reserve.transfers.services import (
    transfer_approve,
    transfer_confirm,
    transfer_create,
    transfer_propose,
    transfer_record_observed,
)
from tests.reserve.conftest import block_time, fake_hash
from tests.users import make_user

BTC = 100_000_000


@pytest.fixture
def perimeter_cap_of_one_btc(db: None) -> None:
    author, first, second = (make_user(name, "policy_admin") for name in ("pa", "pb", "pc"))
    version = policy_create_draft(
        name="Perimeter cap",
        scope=PolicyScope("perimeter"),
        rules=[{"type": "holdings_cap", "params": {"max_sats": BTC}}],
        effective_from=timezone.now() - timedelta(days=1),
        author=author,
    )
    policy_approve(version=version, approver=first)
    policy_approve(version=version, approver=second)


def approved_inflow(wallet: Wallet, sats: int, operator: Any, approvers: tuple[Any, Any]) -> Transfer:
    transfer = transfer_create(
        actor=operator,
        direction="inbound",
        category="purchase",
        amount_sats=sats,
        destination_wallet=wallet,
        provenance_reference="Contract 1",
    )
    transfer_propose(transfer=transfer, actor=operator)
    transfer_approve(transfer=transfer, actor=approvers[0])
    return transfer_approve(transfer=transfer, actor=approvers[1])


def test_two_inflows_that_fit_alone_do_not_both_post(
    perimeter_cap_of_one_btc: None, operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet
) -> None:
    # given: both approved while the perimeter holds nothing
    first = approved_inflow(cold_wallet, 80_000_000, operator, (approver, approver2))
    second = approved_inflow(cold_wallet, 50_000_000, operator, (approver, approver2))
    assert (first.status, second.status) == ("approved", "approved")
    transfer_confirm(
        transfer=first,
        txid=fake_hash("a"),
        vout=0,
        block_height=10,
        block_hash=fake_hash("ba"),
        occurred_at=block_time(1),
    )
    # when
    with pytest.raises(PolicyDenied) as caught:
        transfer_confirm(
            transfer=second,
            txid=fake_hash("b"),
            vout=0,
            block_height=11,
            block_hash=fake_hash("bb"),
            occurred_at=block_time(2),
        )
    # then: nothing of the second posted, the refusal is on record with its reason
    assert "over" in caught.value.fields["policy"][0]
    assert account_balance(account=cold_wallet.ledger_account) == 80_000_000
    assert Transfer.objects.get(pk=second.pk).status == "approved"
    assert PolicyEvaluation.objects.filter(gate="posting", outcome="deny").count() == 1
    # and the dry-run preview says why too
    assert transfer_policy_preview(transfer=Transfer.objects.get(pk=second.pk)).outcome == "deny"


def test_an_unproposed_inflow_over_the_cap_opens_a_breach(perimeter_cap_of_one_btc: None, cold_wallet: Wallet) -> None:
    # when: mined after the policy took effect (observed movements are judged at their block time)
    transfer, breaches = transfer_record_observed(
        direction="inbound",
        amount_sats=2 * BTC,
        txid=fake_hash("gift"),
        vout=0,
        block_height=20,
        block_hash=fake_hash("gift:block"),
        occurred_at=timezone.now() - timedelta(minutes=5),
        destination_wallet=cold_wallet,
        category="donation",
    )
    # then: booked (the chain is the truth) and flagged
    assert account_balance(account=cold_wallet.ledger_account) == 2 * BTC
    assert [breach.rule_type for breach in breaches] == ["holdings_cap"]
    assert breaches[0].subject_id == str(transfer.pk)


def test_facts_answer_holdings_and_flows_by_scope(
    operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet, vault_wallet: Wallet
) -> None:
    # given: one inflow booked and one approved
    booked = approved_inflow(cold_wallet, 30, operator, (approver, approver2))
    transfer_confirm(
        transfer=booked,
        txid=fake_hash("c"),
        vout=0,
        block_height=30,
        block_hash=fake_hash("bc"),
        occurred_at=block_time(6),
    )
    approved_inflow(vault_wallet, 12, operator, (approver, approver2))
    facts = ReservePolicyFacts()
    perimeter, vault = PolicyScope("perimeter"), PolicyScope("wallet", vault_wallet.pk)
    since, until = block_time(0), timezone.now() + timedelta(days=1)
    # then
    assert facts.holdings_sats(scope=perimeter) == 30
    assert facts.holdings_sats(scope=perimeter, at=block_time(5)) == 0
    assert facts.holdings_sats(scope=perimeter, height=30) == 30
    assert facts.flow_sats(scope=perimeter, direction="inbound", since=since, until=until) == 42
    assert facts.flow_sats(scope=perimeter, direction="inbound", since=since, until=until, include_pending=False) == 30
    assert facts.flow_sats(scope=vault, direction="inbound", since=since, until=until) == 12
    assert (
        facts.exempt_inflows_sats(scope=perimeter, since=None, since_height=None, until=until, categories=["purchase"])
        == 30
    )
    assert facts.wallet_balance_sats(wallet_id=cold_wallet.pk) == 30
    assert facts.holdings_changes(scope=perimeter, since=since, until=until) == [(block_time(6), 30, 30)]
