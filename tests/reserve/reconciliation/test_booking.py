"""Booking, branch by branch, against the in-memory chain and the real database: each test
mines real transactions into real blocks (tests/reserve/chain/memory_source.py), lets the
follower scan them, and reads what the books, transfers and discrepancies then say.

The branches are those of reserve/reconciliation/booking.py: an outflow matched by txid, by
destination and amount, with an amount or a fee that differs, or observed (to another
registered wallet or outside), a transfer naming a txid that pays nothing, a match the policy
refuses to post, a movement the books cannot take; an inflow matched, observed from outside
(a coinbase as a mining reward), refused, left to the registered wallet that paid it, or
observed again when a reorg mines it on the new branch.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger.selectors import account_balance
from policy.models import PolicyBreach, PolicyEvaluation
from policy.types import PolicyScope
from reserve.chain.blocks import Outpoint
from reserve.custody.models import Agency, Wallet
from reserve.outbox.models import OutboxMessage
from reserve.reconciliation import booking
from reserve.reconciliation.follower import wallet_scan
from reserve.reconciliation.models import Discrepancy
from reserve.reconciliation.services import discrepancy_resolve
from reserve.transfers.models import Transfer
from reserve.transfers.services import transfer_approve, transfer_create, transfer_mark_broadcast, transfer_propose
from tests.regtest.blocks import block_subsidy_sats
from tests.regtest.keys import WalletKey
from tests.reserve.chain.memory_source import MemorySource
from tests.reserve.conftest import fake_hash
from tests.reserve.reconciliation.conftest import (
    FEE_SATS,
    NO_DISPOSAL,
    SINCE_GENESIS,
    Coin,
    adopt_policy,
    key_wallet,
    pay,
    txid_of,
)
from tests.users import make_user

pytestmark = pytest.mark.django_db

FUNDS = 20_000_000
OUTSIDE = WalletKey("booking outside payer")
COLD, HOT, CUSTOMER = WalletKey("booking cold"), WalletKey("booking hot"), WalletKey("booking customer")


@pytest.fixture
def chain() -> MemorySource:
    return MemorySource()


@pytest.fixture
def people(db: None) -> dict[str, Any]:
    return {
        "operator": make_user("olga", "operator"),
        "approver": make_user("ana", "approver"),
        "approver2": make_user("bruno", "approver"),
    }


@pytest.fixture
def wallets(chain: MemorySource, people: dict[str, Any]) -> tuple[Wallet, Wallet]:
    operator = people["operator"]
    agency = Agency.objects.create(name="Treasury", kind="ministry")
    born = chain.block_count() + 1
    cold = key_wallet(operator, agency, "booking-cold", COLD, birthday_height=born)
    hot = key_wallet(operator, agency, "booking-hot", HOT, birthday_height=born, kind="hot")
    return cold, hot


@pytest.fixture
def funded(chain: MemorySource, wallets: tuple[Wallet, Wallet]) -> Coin:
    """cold holds one output of FUNDS from outside (booked as an observed inflow)."""
    funding = pay(
        [Coin(Outpoint(fake_hash("outside coin"), 0), FUNDS + FEE_SATS, OUTSIDE)], [(COLD.p2wpkh_script, FUNDS)]
    )
    chain.mine(funding)
    wallet_scan(wallet=wallets[0], source=chain)
    return Coin(Outpoint(txid_of(funding), 0), FUNDS, COLD)


def approved(people: dict[str, Any], **fields: Any) -> Transfer:
    transfer = transfer_create(actor=people["operator"], **fields)
    transfer_propose(transfer=transfer, actor=people["operator"])
    transfer_approve(transfer=transfer, actor=people["approver"])
    return transfer_approve(transfer=transfer, actor=people["approver2"])


def outbound(
    people: dict[str, Any], cold: Wallet, amount: int, *, fee: int = FEE_SATS, to: WalletKey = CUSTOMER
) -> Transfer:
    return approved(
        people,
        direction="outbound",
        category="return_to_victims",
        amount_sats=amount,
        fee_sats=fee,
        source_wallet=cold,
        external_address=to.p2wpkh_address,
        provenance_reference="Court order 7",
    )


def open_discrepancies(wallet: Wallet) -> list[tuple[str, str, int | None, int | None, int | None]]:
    """(kind, txid, vout, expected, actual) of the wallet's open discrepancies, but the funding's."""
    rows = Discrepancy.objects.filter(wallet=wallet, status="open").exclude(kind="unrecorded_inflow", actual_sats=FUNDS)
    return sorted(rows.values_list("kind", "txid", "vout", "expected_sats", "actual_sats"))


def balance(wallet: Wallet) -> int:
    return account_balance(account=wallet.ledger_account)


# Outflows: the wallet whose coins are spent books them.


def test_an_outflow_broadcast_with_its_txid_is_confirmed_with_the_fee_paid(chain, wallets, funded, people):
    # given: a transfer broadcast as the transaction that pays it
    cold, _ = wallets
    spend = pay([funded], [(CUSTOMER.p2wpkh_script, 2_000_000)], change=COLD)
    transfer = transfer_mark_broadcast(
        transfer=outbound(people, cold, 2_000_000), actor=people["operator"], txid=txid_of(spend)
    )
    # when
    block_hash = chain.mine(spend)
    result = wallet_scan(wallet=cold, source=chain)
    # then
    transfer.refresh_from_db()
    assert (transfer.status, transfer.txid, transfer.vout, transfer.block_hash) == (
        "confirmed",
        txid_of(spend),
        0,
        block_hash,
    )
    assert transfer.fee_sats == FEE_SATS
    assert (result.bookings.matched, result.bookings.observed) == (1, 0)
    assert open_discrepancies(cold) == []
    assert balance(cold) == FUNDS - 2_000_000 - FEE_SATS


def test_an_outflow_recorded_before_its_txid_was_known_is_matched_by_destination_and_amount(
    chain, wallets, funded, people
):
    # given: approved, never marked broadcast; and one to the same address for another amount
    cold, _ = wallets
    transfer = outbound(people, cold, 3_000_000)
    other = outbound(people, cold, 3_000_001)
    spend = pay([funded], [(CUSTOMER.p2wpkh_script, 3_000_000)], change=COLD)
    # when
    chain.mine(spend)
    wallet_scan(wallet=cold, source=chain)
    # then: the one with the paid amount is confirmed on the chain's txid, the other waits
    transfer.refresh_from_db()
    other.refresh_from_db()
    assert (transfer.status, transfer.txid, transfer.vout) == ("confirmed", txid_of(spend), 0)
    assert (other.status, other.txid) == ("approved", "")
    assert open_discrepancies(cold) == []


def test_an_outflow_paying_another_amount_than_its_transfer_is_an_amount_mismatch(chain, wallets, funded, people):
    # given: broadcast as 2_000_000 to the customer; the transaction pays 2_500_000 there
    cold, _ = wallets
    spend = pay([funded], [(CUSTOMER.p2wpkh_script, 2_500_000)], change=COLD)
    transfer = transfer_mark_broadcast(
        transfer=outbound(people, cold, 2_000_000), actor=people["operator"], txid=txid_of(spend)
    )
    before = balance(cold)
    # when
    chain.mine(spend)
    wallet_scan(wallet=cold, source=chain)
    # then: nothing is confirmed or observed for that output; the difference is reported
    transfer.refresh_from_db()
    assert transfer.status == "broadcast"
    assert open_discrepancies(cold) == [("amount_mismatch", txid_of(spend), 0, 2_000_000, 2_500_000)]
    assert not Transfer.objects.filter(source_wallet=cold, observed=True).exists()
    assert balance(cold) == before


def test_a_transaction_signed_elsewhere_paying_another_amount_opens_a_discrepancy_and_a_breach(
    chain, wallets, funded, people
):
    # given: approved for 2_000_000 under a no-disposal policy, signed elsewhere to pay 2_500_000
    cold, _ = wallets
    transfer = outbound(people, cold, 2_000_000)
    adopt_policy(NO_DISPOSAL, since=SINCE_GENESIS)
    spend = pay([funded], [(CUSTOMER.p2wpkh_script, 2_500_000)], change=COLD)
    transfer_mark_broadcast(transfer=transfer, actor=people["operator"], txid=txid_of(spend))
    # when: mined and scanned, then scanned again
    chain.mine(spend)
    wallet_scan(wallet=cold, source=chain)
    wallet_scan(wallet=cold, source=chain)
    # then: the mismatch is reported and breaches the policy once, as what nobody approved
    [discrepancy] = Discrepancy.objects.filter(wallet=cold, kind="amount_mismatch")
    [breach] = PolicyBreach.objects.filter(status="open")
    assert (breach.rule_type, breach.subject_type, breach.subject_id) == (
        "no_disposal",
        "reserve.discrepancy",
        str(discrepancy.pk),
    )
    assert breach.measured_sats == 2_500_000 and "without a proposal" in breach.reason


def test_a_transaction_signed_elsewhere_paying_another_destination_opens_a_discrepancy_and_a_breach(
    chain, wallets, funded, people
):
    # given: approved to the customer, signed elsewhere to pay an outside address instead
    cold, _ = wallets
    transfer = outbound(people, cold, 2_000_000)
    adopt_policy(NO_DISPOSAL, since=SINCE_GENESIS)
    spend = pay([funded], [(OUTSIDE.p2wpkh_script, 2_000_000)], change=COLD)
    transfer_mark_broadcast(transfer=transfer, actor=people["operator"], txid=txid_of(spend))
    # when
    chain.mine(spend)
    wallet_scan(wallet=cold, source=chain)
    # then: the outflow is booked as observed, reported, and breaches the policy
    [reported] = Discrepancy.objects.filter(wallet=cold, kind="unrecorded_outflow")
    [breach] = PolicyBreach.objects.filter(status="open")
    assert reported.transfer is not None and reported.transfer.observed
    assert (breach.rule_type, breach.subject_id) == ("no_disposal", str(reported.transfer.pk))


def test_a_fee_other_than_proposed_is_a_fee_mismatch_and_the_books_hold_what_was_paid(chain, wallets, funded, people):
    # given: proposed with a fee of 2_500; the transaction pays FEE_SATS
    cold, _ = wallets
    transfer = outbound(people, cold, 2_000_000, fee=2_500)
    spend = pay([funded], [(CUSTOMER.p2wpkh_script, 2_000_000)], change=COLD)
    # when
    chain.mine(spend)
    wallet_scan(wallet=cold, source=chain)
    # then
    transfer.refresh_from_db()
    assert (transfer.status, transfer.fee_sats) == ("confirmed", FEE_SATS)
    assert open_discrepancies(cold) == [("fee_mismatch", txid_of(spend), None, 2_500, FEE_SATS)]
    assert balance(cold) == FUNDS - 2_000_000 - FEE_SATS


def test_an_unproposed_outflow_to_another_registered_wallet_is_observed_internal(chain, wallets, funded, people):
    # given
    cold, hot = wallets
    spend = pay([funded], [(HOT.p2wpkh_script, 4_000_000)], change=COLD)
    # when: the receiving wallet scans first, then the paying one
    chain.mine(spend)
    hot_result = wallet_scan(wallet=hot, source=chain)
    cold_result = wallet_scan(wallet=cold, source=chain)
    # then: hot booked nothing and asked cold (the payer) to scan; cold booked it as internal
    assert (hot_result.bookings.matched, hot_result.bookings.observed) == (0, 0)
    assert OutboxMessage.objects.filter(task_name="reserve.reconcile_wallet_task", args=[cold.pk]).exists()
    assert open_discrepancies(hot) == []
    observed = Transfer.objects.get(observed=True, source_wallet=cold)
    assert (observed.direction, observed.destination_wallet, observed.amount_sats, observed.fee_sats) == (
        "internal",
        hot,
        4_000_000,
        FEE_SATS,
    )
    assert cold_result.bookings.observed == 1
    assert open_discrepancies(cold) == [("unrecorded_outflow", txid_of(spend), 0, None, 4_000_000)]
    assert (balance(cold), balance(hot)) == (FUNDS - 4_000_000 - FEE_SATS, 4_000_000)


def test_an_unproposed_outflow_outside_is_observed_outbound(chain, wallets, funded, people):
    cold, _ = wallets
    thief = WalletKey("booking thief")
    spend = pay([funded], [(thief.p2wpkh_script, 5_000_000)], change=COLD)
    chain.mine(spend)
    wallet_scan(wallet=cold, source=chain)
    observed = Transfer.objects.get(observed=True, source_wallet=cold)
    assert (observed.direction, observed.external_address, observed.amount_sats, observed.vout) == (
        "outbound",
        thief.p2wpkh_address,
        5_000_000,
        0,
    )
    assert open_discrepancies(cold) == [("unrecorded_outflow", txid_of(spend), 0, None, 5_000_000)]


def test_a_transfer_naming_a_txid_that_pays_nothing_to_its_destination_is_reported(chain, wallets, funded, people):
    # given: broadcast as a transaction that in fact pays someone else
    cold, _ = wallets
    elsewhere = WalletKey("booking elsewhere")
    spend = pay([funded], [(elsewhere.p2wpkh_script, 1_000_000)], change=COLD)
    transfer = transfer_mark_broadcast(
        transfer=outbound(people, cold, 1_000_000), actor=people["operator"], txid=txid_of(spend)
    )
    # when
    chain.mine(spend)
    wallet_scan(wallet=cold, source=chain)
    # then: the transfer is unmatched (still broadcast), the payment elsewhere observed
    transfer.refresh_from_db()
    assert transfer.status == "broadcast"
    assert open_discrepancies(cold) == [
        ("amount_mismatch", txid_of(spend), None, 1_000_000, None),
        ("unrecorded_outflow", txid_of(spend), 0, None, 1_000_000),
    ]
    assert Discrepancy.objects.get(kind="amount_mismatch").transfer == transfer


def test_a_matched_outflow_the_policy_refuses_to_post_is_observed_and_reported(chain, wallets, funded, people):
    # given: approved for 2_000_000; then a limit of 1_000_000 per outbound transfer comes into force
    cold, _ = wallets
    transfer = outbound(people, cold, 2_000_000)
    adopt_policy({"type": "transfer_limit", "params": {"max_sats": 1_000_000, "direction": "outbound"}})
    spend = pay([funded], [(CUSTOMER.p2wpkh_script, 2_000_000)], change=COLD)
    # when
    chain.mine(spend)
    result = wallet_scan(wallet=cold, source=chain)
    # then: the transfer is not confirmed; what the chain did is booked as observed and reported
    transfer.refresh_from_db()
    assert transfer.status == "approved"
    assert (result.bookings.matched, result.bookings.observed) == (0, 1)
    [reported] = Discrepancy.objects.filter(wallet=cold, kind="unrecorded_outflow")
    assert f"transfer #{transfer.pk} matches this outflow but could not be confirmed" in reported.detail
    assert reported.transfer is not None and reported.transfer.observed and reported.transfer.amount_sats == 2_000_000
    assert balance(cold) == FUNDS - 2_000_000 - FEE_SATS
    # ...and the refusal is on record although its savepoint rolled back (issue 12)
    refusal = PolicyEvaluation.objects.get(gate="posting", subject_id=str(transfer.pk))
    assert refusal.outcome == "deny" and refusal.lines[0]["rule_type"] == "transfer_limit"


def test_an_outflow_the_books_cannot_take_is_reported_without_a_booking(chain, wallets, funded, people):
    # given: the funding was written off the books
    cold, _ = wallets
    discrepancy_resolve(
        discrepancy=Discrepancy.objects.get(wallet=cold, kind="unrecorded_inflow"),
        reason="another agency's case",
        actor=people["operator"],
        adjustment_sats=-FUNDS,
    )
    spend = pay([funded], [(CUSTOMER.p2wpkh_script, FUNDS - FEE_SATS)])
    # when
    chain.mine(spend)
    chain.mine()
    result = wallet_scan(wallet=cold, source=chain)
    # then: the scan went on to the tip; the outflow is reported, not booked
    assert result.tip_height == chain.block_count()
    [outflow] = Discrepancy.objects.filter(wallet=cold, kind="unrecorded_outflow")
    assert outflow.transfer is None and "the books refused it" in outflow.detail
    assert balance(cold) == 0


# Inflows: a receiving wallet books only what comes from outside the registered wallets.


def test_an_inflow_from_outside_is_matched_to_its_approved_transfer_by_amount(chain, wallets, people):
    # given: an approved inbound transfer (txid unknown to the books)
    cold, _ = wallets
    transfer = approved(
        people,
        direction="inbound",
        category="forfeiture",
        amount_sats=7_000_000,
        destination_wallet=cold,
        provenance_reference="Final order 17",
    )
    seized = pay(
        [Coin(Outpoint(fake_hash("seized"), 1), 7_000_000 + FEE_SATS, OUTSIDE)], [(COLD.p2wpkh_script, 7_000_000)]
    )
    # when
    chain.mine(seized)
    result = wallet_scan(wallet=cold, source=chain)
    # then
    transfer.refresh_from_db()
    assert (transfer.status, transfer.txid, transfer.vout) == ("confirmed", txid_of(seized), 0)
    assert (result.bookings.matched, result.bookings.observed, result.bookings.discrepancies) == (1, 0, [])
    assert balance(cold) == 7_000_000


def test_an_unproposed_inflow_from_outside_is_observed_and_a_coinbase_is_a_mining_reward(chain, wallets, people):
    cold, _ = wallets
    donation = pay([Coin(Outpoint(fake_hash("donor"), 0), 1_501_000, OUTSIDE)], [(COLD.p2wpkh_script, 1_500_000)])
    chain.mine(donation, payout_script=COLD.p2wpkh_script)
    height = chain.block_count()
    wallet_scan(wallet=cold, source=chain)
    observed = {
        (t.category, t.amount_sats, t.direction)
        for t in Transfer.objects.filter(destination_wallet=cold, observed=True)
    }
    assert observed == {("mining_reward", block_subsidy_sats(height), "inbound"), ("other", 1_500_000, "inbound")}
    assert sorted(Discrepancy.objects.filter(wallet=cold).values_list("kind", "actual_sats")) == sorted(
        [("unrecorded_inflow", block_subsidy_sats(height)), ("unrecorded_inflow", 1_500_000)]
    )
    assert balance(cold) == block_subsidy_sats(height) + 1_500_000


def test_a_mining_payout_proposed_with_its_site_is_matched_and_one_seen_without_is_a_breach(chain, wallets, people):
    # given: Pakistan-like sources, a mining payout naming its site (reference) required
    cold, _ = wallets
    adopt_policy(
        {
            "type": "allowed_sources",
            "params": {"categories": ["mining_reward"], "reference_required": ["mining_reward"]},
        },
        since=SINCE_GENESIS,
    )
    proposed = approved(
        people,
        direction="inbound",
        category="mining_reward",
        amount_sats=block_subsidy_sats(chain.block_count() + 1),
        destination_wallet=cold,
        provenance_reference="Site PK-07",
    )
    # when: the proposed payout is mined, then one nobody proposed
    chain.mine(payout_script=COLD.p2wpkh_script)
    wallet_scan(wallet=cold, source=chain)
    proposed.refresh_from_db()
    assert (proposed.status, PolicyBreach.objects.count()) == ("confirmed", 0)
    chain.mine(payout_script=COLD.p2wpkh_script)
    wallet_scan(wallet=cold, source=chain)
    # then: the second is booked as a mining reward without a site, and breaches allowed_sources
    [seen] = Transfer.objects.filter(destination_wallet=cold, observed=True)
    [breach] = PolicyBreach.objects.filter(status="open")
    assert (seen.category, seen.provenance_reference) == ("mining_reward", "")
    assert (breach.rule_type, breach.subject_id) == ("allowed_sources", str(seen.pk))


def test_an_inflow_the_policy_refuses_to_post_is_observed_and_reported(chain, wallets, people):
    # given: a perimeter cap of 1 BTC, and two approved inflows that fit alone, not together
    cold, _ = wallets
    adopt_policy({"type": "holdings_cap", "params": {"max_sats": 100_000_000}})
    inflows = [
        approved(
            people,
            direction="inbound",
            category="purchase",
            amount_sats=sats,
            destination_wallet=cold,
            provenance_reference="Contract 1",
        )
        for sats in (80_000_000, 50_000_000)
    ]
    coins = [
        Coin(Outpoint(fake_hash(f"seller {n}"), 0), sats + FEE_SATS, OUTSIDE)
        for n, sats in enumerate((80_000_000, 50_000_000))
    ]
    payments = [pay([coin], [(COLD.p2wpkh_script, coin.value_sats - FEE_SATS)]) for coin in coins]
    # when: both arrive in one block
    chain.mine(*payments)
    result = wallet_scan(wallet=cold, source=chain)
    # then: the first is confirmed; the second could not be, so the chain's inflow is observed
    # (detective mode opens the breach) and reported naming the transfer
    for transfer in inflows:
        transfer.refresh_from_db()
    assert [transfer.status for transfer in inflows] == ["confirmed", "approved"]
    assert (result.bookings.matched, result.bookings.observed) == (1, 1)
    [reported] = Discrepancy.objects.filter(wallet=cold, kind="unrecorded_inflow")
    assert f"transfer #{inflows[1].pk} matches this inflow but could not be confirmed" in reported.detail
    assert reported.transfer is not None and reported.transfer.observed
    assert balance(cold) == 130_000_000
    refusal = PolicyEvaluation.objects.get(gate="posting", subject_id=str(inflows[1].pk))
    assert refusal.outcome == "deny"


def test_an_observed_inflow_mined_again_on_the_new_branch_after_a_reorg_is_booked_again(chain, wallets, people):
    # given: a donation booked as observed in block a1
    cold, _ = wallets
    donation = pay([Coin(Outpoint(fake_hash("donor again"), 0), 1_501_000, OUTSIDE)], [(COLD.p2wpkh_script, 1_500_000)])
    fork = chain.best[-1]
    chain.mine(donation)
    wallet_scan(wallet=cold, source=chain)
    observed = Transfer.objects.get(destination_wallet=cold, observed=True)
    # when: a longer branch from the same parent holds the donation in its second block
    b1 = chain.mine(parent_hash=fork)
    b2 = chain.mine(donation, parent_hash=b1)
    assert chain.best[-2:] == [b1, b2]
    result = wallet_scan(wallet=cold, source=chain)
    # then: the same transfer, reversed with its block and confirmed again on the new one, once
    observed.refresh_from_db()
    assert result.reorgs == 1
    assert (observed.status, observed.block_hash, observed.block_height) == ("confirmed", b2, chain.block_count())
    assert Transfer.objects.filter(destination_wallet=cold).count() == 1
    assert balance(cold) == 1_500_000


def test_an_inbound_transfer_reorged_out_is_matched_by_its_txid_when_mined_again(chain, wallets, people):
    # given: an approved inflow confirmed (by amount) in block a1; a longer branch drops a1
    cold, _ = wallets
    transfer = approved(
        people,
        direction="inbound",
        category="forfeiture",
        amount_sats=3_000_000,
        destination_wallet=cold,
        provenance_reference="Final order 18",
    )
    seized = pay([Coin(Outpoint(fake_hash("seized again"), 0), 3_001_000, OUTSIDE)], [(COLD.p2wpkh_script, 3_000_000)])
    fork = chain.best[-1]
    chain.mine(seized)
    wallet_scan(wallet=cold, source=chain)
    b1 = chain.mine(parent_hash=fork)
    # and an approved inflow of the same amount, txid unknown, which must not take the match
    decoy = approved(
        people,
        direction="inbound",
        category="forfeiture",
        amount_sats=3_000_000,
        destination_wallet=cold,
        provenance_reference="Final order 19",
    )
    # when: the new branch mines the same transaction
    b2 = chain.mine(seized, parent_hash=b1)
    wallet_scan(wallet=cold, source=chain)
    # then: the reorged transfer, which knows the txid, is the one confirmed again
    transfer.refresh_from_db()
    decoy.refresh_from_db()
    assert (transfer.status, transfer.txid, transfer.block_hash) == ("confirmed", txid_of(seized), b2)
    assert (decoy.status, decoy.txid) == ("approved", "")
    assert balance(cold) == 3_000_000


def test_a_block_holds_every_lock_before_its_first_booking(chain, wallets, funded, people, monkeypatch):
    # given: an outflow (wallet, fees, disposals) and a policy governing the perimeter
    cold, _ = wallets
    adopt_policy({"type": "transfer_limit", "params": {"max_sats": 10 * 100_000_000, "direction": "outbound"}})
    spend = pay([funded], [(CUSTOMER.p2wpkh_script, 2_000_000)], change=COLD)
    transfer_mark_broadcast(transfer=outbound(people, cold, 2_000_000), actor=people["operator"], txid=txid_of(spend))
    chain.mine(spend)
    calls: list[tuple[str, Any]] = []
    real_hold, real_scopes, real_confirm = booking.balances_hold, booking.lock_scopes, booking.transfer_confirm

    def lock_scopes(scopes: list[PolicyScope]) -> None:
        calls.append(("scopes", list(scopes)))
        real_scopes(scopes)

    def balances_hold(**kwargs: Any) -> int:
        calls.append(("balances", sorted(kwargs["account_ids"])))
        return real_hold(**kwargs)

    def transfer_confirm(**kwargs: Any) -> Transfer:
        calls.append(("confirm", kwargs["txid"]))
        return real_confirm(**kwargs)

    monkeypatch.setattr(booking, "lock_scopes", lock_scopes)
    monkeypatch.setattr(booking, "balances_hold", balances_hold)
    monkeypatch.setattr(booking, "transfer_confirm", transfer_confirm)
    # when
    result = wallet_scan(wallet=cold, source=chain)
    # then: scopes, then balances (the shared fees and disposal accounts with them), then bookings
    assert result.bookings.matched == 1
    assert [kind for kind, _ in calls] == ["scopes", "balances", "confirm"]
    assert PolicyScope("perimeter") in calls[0][1]
    assert calls[1][1] == [cold.ledger_account_id]
