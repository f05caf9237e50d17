"""A US-like yearly purchase allowance (BITCOIN Act s. 5, a calendar year) that forfeitures do not use
up: what the Marshals' wallet (a government wallet outside the Reserve) hands over counts by the lots
it moves, split by amount, at the proposal and in the year's sum; the allowance renews at midnight UTC
on 1 January. On PostgreSQL, through the transfer services and real postings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from policy.types import PolicyScope
from reserve.compliance.models import Lot, LotConsumption
from reserve.custody.models import Agency, Wallet
from reserve.custody.services import agency_create
from reserve.transfers.involuntary import involuntary_mark_approve, involuntary_mark_propose
from reserve.transfers.models import Transfer, TransferStatus
from reserve.transfers.services import transfer_record_observed
from tests.owner import requires_role_split
from tests.reserve.compliance.scenarios.conftest import (
    BTC,
    Clock,
    People,
    activate_policy,
    approve,
    confirm,
    import_holdings,
    last_evaluation,
    propose,
)
from tests.reserve.conftest import TPUB_A, TPUB_B, register
from tests.users import make_user

pytestmark = pytest.mark.django_db

ALLOWANCE = BTC  # bought per UTC calendar year
FEE_SATS = 1_000
ALLOWANCE_RULES = [
    {
        "type": "velocity_limit",
        "params": {"max_sats": ALLOWANCE, "calendar": "year", "direction": "inbound", "categories": ["purchase"]},
    }
]
FORFEITED_AT = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    current = Clock(datetime(2025, 5, 1, tzinfo=UTC))
    monkeypatch.setattr(timezone, "now", lambda: current.now)
    yield current


@pytest.fixture
def people(db: None, clock: Clock) -> People:
    return People(
        operator=make_user("olga", "operator"),
        approvers=(make_user("ana", "approver"), make_user("bruno", "approver"), make_user("carla", "approver")),
        policy_admins=(
            make_user("paula", "policy_admin"),
            make_user("pedro", "policy_admin"),
            make_user("priya", "policy_admin"),
        ),
    )


@pytest.fixture
def reserve(people: People) -> Wallet:
    """The Reserve's cold wallet, its agency's wallets governed by the allowance from 2026."""
    agency = agency_create(name="Strategic Bitcoin Reserve", kind="ministry", actor=people.operator)
    activate_policy(
        people,
        name="Purchase allowance",
        scope=PolicyScope("perimeter"),
        rules=ALLOWANCE_RULES,
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return register(people.operator, agency, "reserve-cold", TPUB_A)


@pytest.fixture
def marshals(people: People) -> Wallet:
    agency: Agency = agency_create(name="US Marshals Service", kind="law_enforcement", actor=people.operator)
    return register(people.operator, agency, "marshals", TPUB_B, fingerprint="b8688df1", in_perimeter=False)


def _posted(people: Any, clock: Clock, at: datetime, **fields: Any) -> Transfer:
    """Proposed, approved and mined at `at`."""
    clock.set(at)
    transfer = approve(people, propose(people, **fields))
    assert transfer.status == TransferStatus.APPROVED, last_evaluation(transfer).lines
    return confirm(transfer, label=f"{fields['category']}:{at.isoformat()}", height=_height(at), at=at)


def _height(at: datetime) -> int:
    return 800_000 + int((at - FORFEITED_AT).total_seconds() // 600)


def _buy(people: People, clock: Clock, wallet: Wallet, sats: int, at: datetime) -> Transfer:
    return _posted(people, clock, at, **_purchase(wallet, sats))


def _purchase(wallet: Wallet, sats: int) -> dict[str, Any]:
    return {
        "direction": "inbound",
        "category": "purchase",
        "amount_sats": sats,
        "destination_wallet": wallet,
        "provenance_reference": "Treasury purchase order",
    }


def _handover(marshals: Wallet, reserve: Wallet, sats: int, category: str = "agency_consolidation") -> dict[str, Any]:
    return {
        "direction": "internal",
        "category": category,
        "amount_sats": sats,
        "fee_sats": FEE_SATS,
        "source_wallet": marshals,
        "destination_wallet": reserve,
        "provenance_reference": "EO 14233 s. 3(a) transfer",
    }


def _proposed(people: People, clock: Clock, at: datetime, **fields: Any) -> tuple[str, dict[str, Any]]:
    """The status a proposal at `at` reaches, and its allowance line (a refused one stays a draft)."""
    clock.set(at)
    transfer = propose(people, **fields)
    (line,) = [line for line in last_evaluation(transfer).lines if line["rule_type"] == "velocity_limit"]
    return str(transfer.status), line


def test_a_marshals_handover_of_forfeited_coins_leaves_the_allowance_whole_and_a_purchase_uses_it(
    people: People, clock: Clock, reserve: Wallet, marshals: Wallet
) -> None:
    # given: 5 BTC forfeited in the Marshals' wallet, 0.6 BTC bought this year
    import_holdings(people, [(FORFEITED_AT, marshals, 5 * BTC, 700_000)])
    _buy(people, clock, reserve, 6 * BTC // 10, datetime(2026, 2, 1, tzinfo=UTC))

    # when: the Marshals hand 4 BTC of forfeited coins over
    handover = _posted(people, clock, datetime(2026, 3, 1, tzinfo=UTC), **_handover(marshals, reserve, 4 * BTC))

    # then: it used none of the allowance; a purchase of what is left passes, one satoshi more does not
    assert last_evaluation(handover).lines[0]["reason"].startswith("Does not apply: it moves no purchase")
    april = datetime(2026, 4, 1, tzinfo=UTC)
    over_status, over = _proposed(people, clock, april, **_purchase(reserve, 4 * BTC // 10 + 1))
    exact_status, exact = _proposed(people, clock, april, **_purchase(reserve, 4 * BTC // 10))
    assert (over_status, over["verdict"], over["measured_sats"]) == ("draft", "deny", ALLOWANCE + 1)
    assert (exact_status, exact["verdict"], exact["measured_sats"]) == ("pending_approval", "allow", ALLOWANCE)


def test_bought_coins_parked_in_the_marshals_wallet_use_the_allowance_whatever_the_handover_says(
    people: People, clock: Clock, reserve: Wallet, marshals: Wallet
) -> None:
    # given: an insider buys into the Marshals' wallet (outside the Reserve's policy) to hand it over
    _buy(people, clock, marshals, 3 * BTC, datetime(2026, 1, 10, tzinfo=UTC))
    at = datetime(2026, 2, 1, tzinfo=UTC)

    # when: the handover is tagged a forfeiture
    over_status, over = _proposed(people, clock, at, **_handover(marshals, reserve, ALLOWANCE + 1, "forfeiture"))
    exact_status, exact = _proposed(people, clock, at, **_handover(marshals, reserve, ALLOWANCE, "forfeiture"))

    # then: the coins count as what they were bought as, to the satoshi
    assert (over_status, over["verdict"], over["measured_sats"]) == ("draft", "deny", ALLOWANCE + 1)
    assert (exact_status, exact["verdict"], exact["measured_sats"]) == ("pending_approval", "allow", ALLOWANCE)


@pytest.mark.parametrize(("bought_before", "outcome"), [(8 * BTC // 10, "allow"), (8 * BTC // 10 + 1, "deny")])
def test_a_mixed_handover_uses_the_allowance_by_its_purchased_part(
    people: People, clock: Clock, reserve: Wallet, marshals: Wallet, bought_before: int, outcome: str
) -> None:
    # given: the Marshals hold 0.3 BTC forfeited, then 0.2 BTC (and the fee) bought
    import_holdings(people, [(FORFEITED_AT, marshals, 3 * BTC // 10, 700_000)])
    _buy(people, clock, marshals, 2 * BTC // 10 + FEE_SATS, datetime(2026, 1, 5, tzinfo=UTC))
    _buy(people, clock, reserve, bought_before, datetime(2026, 1, 10, tzinfo=UTC))

    # when: one handover moves all 0.5 BTC into the Reserve
    status, line = _proposed(people, clock, datetime(2026, 2, 1, tzinfo=UTC), **_handover(marshals, reserve, BTC // 2))

    # then: it counts 0.2 BTC, the allowance exactly or one satoshi over
    assert (line["verdict"], line["measured_sats"]) == (outcome, bought_before + 2 * BTC // 10)
    assert status == ("pending_approval" if outcome == "allow" else "draft")


def test_the_years_sum_counts_a_handover_by_its_lots_pending_and_posted(
    people: People, clock: Clock, reserve: Wallet, marshals: Wallet
) -> None:
    # given: 0.8 BTC bought, and a mixed handover (0.2 BTC of it bought) approved
    import_holdings(people, [(FORFEITED_AT, marshals, 3 * BTC // 10, 700_000)])
    _buy(people, clock, marshals, 2 * BTC // 10 + FEE_SATS, datetime(2026, 1, 5, tzinfo=UTC))
    _buy(people, clock, reserve, 8 * BTC // 10, datetime(2026, 1, 10, tzinfo=UTC))
    clock.set(datetime(2026, 2, 1, tzinfo=UTC))
    handover = approve(people, propose(people, **_handover(marshals, reserve, BTC // 2)))
    one_sat = _purchase(reserve, 1)

    # then: pending, it weighs 0.2 BTC; posted, its lots say the same
    assert _proposed(people, clock, datetime(2026, 2, 2, tzinfo=UTC), **one_sat)[1]["measured_sats"] == ALLOWANCE + 1
    handover = confirm(handover, label="handover", height=900_000, at=datetime(2026, 2, 3, tzinfo=UTC))
    assert handover.status == TransferStatus.CONFIRMED
    status, line = _proposed(people, clock, datetime(2026, 2, 4, tzinfo=UTC), **one_sat)
    assert (status, line["verdict"], line["measured_sats"]) == ("draft", "deny", ALLOWANCE + 1)


def test_the_allowance_renews_at_midnight_utc_on_the_first_of_january(
    people: People, clock: Clock, reserve: Wallet, marshals: Wallet
) -> None:
    # given: 2026's allowance used up, 0.3 BTC of it by bought coins the Marshals handed over
    _buy(people, clock, marshals, 3 * BTC // 10 + FEE_SATS, datetime(2026, 1, 5, tzinfo=UTC))
    _posted(people, clock, datetime(2026, 6, 1, tzinfo=UTC), **_handover(marshals, reserve, 3 * BTC // 10))
    _buy(people, clock, reserve, 7 * BTC // 10, datetime(2026, 12, 31, 12, tzinfo=UTC))
    new_year = datetime(2027, 1, 1, tzinfo=UTC)

    # then: a satoshi more is refused on New Year's Eve, the whole allowance passes at midnight
    last_status, last_moment = _proposed(people, clock, new_year - timedelta(microseconds=1), **_purchase(reserve, 1))
    over_status, over = _proposed(people, clock, new_year, **_purchase(reserve, ALLOWANCE + 1))
    fresh_status, fresh = _proposed(people, clock, new_year, **_purchase(reserve, ALLOWANCE))
    assert (last_status, last_moment["verdict"], last_moment["measured_sats"]) == ("draft", "deny", ALLOWANCE + 1)
    assert (over_status, over["verdict"]) == ("draft", "deny")
    assert (fresh_status, fresh["verdict"], fresh["measured_sats"]) == ("pending_approval", "allow", ALLOWANCE)


# What an insider with the service role's connection would try, to pass bought coins off as forfeited.
FORGERIES = {
    # a forfeiture lot, backdated, in the Marshals' wallet, on the posting that bought the coins
    "invented lot": "INSERT INTO reserve_lot (wallet_id, transfer_id, journal_transaction_id, acquired_at, "
    "amount_sats, category, provenance_reference, created_at) SELECT wallet_id, transfer_id, "
    "journal_transaction_id, '2020-01-01', amount_sats, 'forfeiture', 'Order 1', now() FROM reserve_lot "
    "WHERE category = 'purchase'",
    # the bought lot re-labelled
    "relabelled lot": "UPDATE reserve_lot SET category = 'forfeiture'",
    # a moved lot claiming a forfeited origin the posting never took
    "borrowed origin": "INSERT INTO reserve_lot (wallet_id, transfer_id, journal_transaction_id, origin_id, "
    "acquired_at, amount_sats, category, provenance_reference, created_at) SELECT l.wallet_id, l.transfer_id, "
    "l.journal_transaction_id, f.id, f.acquired_at, l.amount_sats, f.category, f.provenance_reference, now() "
    "FROM reserve_lot l, reserve_lot f WHERE l.category = 'purchase' AND f.category = 'forfeiture'",
    # the forfeited lot used up by a posting that took nothing from the Marshals' wallet
    "consumed by another posting": "INSERT INTO reserve_lotconsumption (lot_id, transfer_id, "
    "journal_transaction_id, amount_sats, created_at) SELECT f.id, l.transfer_id, l.journal_transaction_id, "
    "f.amount_sats, now() FROM reserve_lot l, reserve_lot f WHERE l.category = 'purchase' "
    "AND f.category = 'forfeiture'",
}


@requires_role_split
@pytest.mark.parametrize("statement", FORGERIES.values(), ids=FORGERIES.keys())
def test_the_service_role_cannot_forge_the_provenance_a_limit_counts(
    people: People, clock: Clock, reserve: Wallet, marshals: Wallet, statement: str
) -> None:
    # given: the Marshals hold forfeited coins and bought coins
    import_holdings(people, [(FORFEITED_AT, marshals, BTC, 700_000)])
    _buy(people, clock, marshals, 3 * BTC, datetime(2026, 1, 10, tzinfo=UTC))
    before = list(Lot.objects.order_by("id").values_list("category", "amount_sats", "acquired_at"))
    assert not LotConsumption.objects.exists()

    # when: the lots are forged by hand
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)

    # then: nothing changed, and handing the bought coins over still uses the allowance
    assert list(Lot.objects.order_by("id").values_list("category", "amount_sats", "acquired_at")) == before
    assert not LotConsumption.objects.exists()
    moved = _handover(marshals, reserve, BTC + ALLOWANCE + 1)  # the forfeited lot first, then the bought one
    status, line = _proposed(people, clock, datetime(2026, 2, 1, tzinfo=UTC), **moved)
    assert (status, line["verdict"], line["measured_sats"]) == ("draft", "deny", ALLOWANCE + 1)


RELABELS = {
    # the year's purchase passed off as a forfeiture, giving the allowance back
    "purchase as forfeiture": "UPDATE reserve_transfer SET category = 'forfeiture' WHERE category = 'purchase'",
    # ... or as an involuntary inflow, though someone proposed it
    "purchase as a donation": "UPDATE reserve_transfer SET category = 'donation' WHERE category = 'purchase'",
    # an inflow nobody proposed classed as a forfeiture (only an involuntary term may be marked)
    "seen inflow as forfeiture": "UPDATE reserve_transfer SET category = 'forfeiture' WHERE observed",
}


@requires_role_split
@pytest.mark.parametrize("statement", RELABELS.values(), ids=RELABELS.keys())
def test_the_service_role_cannot_relabel_a_purchase_to_win_the_allowance_back(
    people: People, clock: Clock, reserve: Wallet, statement: str
) -> None:
    # given: the year's allowance bought, and an inflow seen on chain that nobody proposed
    _buy(people, clock, reserve, ALLOWANCE, datetime(2026, 2, 1, tzinfo=UTC))
    seen = transfer_record_observed(
        direction="inbound",
        amount_sats=546,
        txid="ab" * 32,
        vout=0,
        block_height=_height(datetime(2026, 2, 2, tzinfo=UTC)),
        block_hash="cd" * 32,
        occurred_at=datetime(2026, 2, 2, tzinfo=UTC),
        destination_wallet=reserve,
    )[0]

    # when: the categories are rewritten by hand
    with pytest.raises(DatabaseError, match="is permanent"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)

    # then: one satoshi more is still over the allowance; the seen inflow can still be marked as dust,
    # by a proposal and another person's approval
    status, line = _proposed(people, clock, datetime(2026, 3, 1, tzinfo=UTC), **_purchase(reserve, 1))
    assert (status, line["verdict"], line["measured_sats"]) == ("draft", "deny", ALLOWANCE + 1)
    mark = involuntary_mark_propose(transfer=seen, category="dust", reason="546 sats", actor=people.operator)
    involuntary_mark_approve(mark=mark, actor=people.approvers[0])
    assert Transfer.objects.get(pk=seen.pk).category == "dust"
