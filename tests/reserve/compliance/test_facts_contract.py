"""One contract for the facts the policy engine reads (`policy.facts.PolicyFacts`).

The fake the policy tests use (`tests.policy.memory_facts.MemoryFacts`) and the reserve's own
facts (`reserve.policy_facts.ReservePolicyFacts`) are loaded with the same scenarios and asked
the same questions, so the two cannot drift apart; the clauses of the Protocol are then checked
against each of them.

A scenario is plain data: agencies, wallets (their agency, inside the perimeter or not, and any
approved change of that membership at a later moment) and moves, each a transfer taken through
its life as far as its status says, at the times and blocks it names. The real side goes
through reserve's services on the real database, committed (the ledger's deferred triggers check
every posting); the fake books the same movements.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from policy.facts import PolicyFacts
from policy.rules.base import END_OF_BOOKS
from policy.types import DIRECTIONS, FiatAmount, PolicyScope, ProposedChange, ScopeKind
from reserve.compliance.facts import ReservePolicyFacts
from reserve.compliance.services import fiat_total_record
from reserve.custody.membership import membership_approve, membership_propose
from reserve.custody.models import Agency, Wallet
from reserve.custody.services import agency_create, wallet_register
from reserve.pricing.models import PriceQuote
from reserve.transfers.models import Transfer
from reserve.transfers.services import (
    transfer_approve,
    transfer_cancel,
    transfer_confirm,
    transfer_create,
    transfer_finalize,
    transfer_mark_broadcast,
    transfer_mark_failed,
    transfer_mark_reorged,
    transfer_propose,
    transfer_record_observed,
    transfer_reject,
)
from tests.policy.memory_facts import MemoryFacts
from tests.reserve.approved_imports import import_transfers
from tests.reserve.conftest import REGTEST_EXTERNAL, TPUB_A, TPUB_B, TPUB_C, fake_hash
from tests.users import make_user

BTC = 100_000_000
MICROSECOND = timedelta(microseconds=1)
DAY = datetime(2025, 6, 2, tzinfo=UTC)
FAR_PAST = DAY - timedelta(days=365)


def hours(value: float) -> datetime:
    return DAY + timedelta(hours=value)


# ---- scenarios as data ---------------------------------------------------------------------

# How far through its life each status takes a transfer, and what the facts make of it.
POSTED = ("imported", "observed", "confirmed", "final", "reorged")  # reorged: posted, then reversed
PENDING = ("approved", "broadcast")  # approved, not yet mined: a reservation
NEVER_MOVED = ("draft", "pending_approval", "rejected", "cancelled", "failed")
APPROVED_FIRST = ("approved", "broadcast", "cancelled", "failed", "confirmed", "final", "reorged")


@dataclass(frozen=True)
class WalletSpec:
    agency: str
    in_perimeter: bool = True


@dataclass(frozen=True)
class Rehome:
    """An approved change of a wallet's membership, in force from `at` (the wallet is empty then)."""

    wallet: str
    at: datetime
    agency: str
    in_perimeter: bool


@dataclass(frozen=True)
class Block:
    at: datetime
    height: int


@dataclass(frozen=True)
class Move:
    label: str
    status: str
    direction: str
    amount_sats: int
    source: str | None = None
    destination: str | None = None
    category: str = "purchase"
    fee_sats: int = 0
    approved_at: datetime | None = None
    block: Block | None = None
    remined: Block | None = None  # reorged, then mined again in this block

    def __post_init__(self) -> None:
        assert self.status in POSTED + PENDING + NEVER_MOVED, self.status
        assert (self.approved_at is not None) == (self.status in APPROVED_FIRST), self.label
        assert (self.block is not None) == (self.status in POSTED), self.label
        assert self.remined is None or self.status == "reorged", self.label

    @property
    def held_sats(self) -> int:
        """What an approved outflow reserves on its source wallet."""
        return self.amount_sats + self.fee_sats


@dataclass(frozen=True)
class Scenario:
    name: str
    agencies: tuple[str, ...]
    wallets: dict[str, WalletSpec]
    moves: tuple[Move, ...]
    rehomes: tuple[Rehome, ...] = ()
    # Price quotes (at, currency, price of 1 BTC) and fiat totals (name, currency, amount, as of).
    quotes: tuple[tuple[datetime, str, str], ...] = ()
    fiat_totals: tuple[tuple[str, str, str, datetime], ...] = ()

    def move(self, label: str) -> Move:
        return next(move for move in self.moves if move.label == label)

    def membership(self, label: str, at: datetime) -> WalletSpec:
        """The wallet's membership in force at `at`."""
        found = self.wallets[label]
        for rehome in sorted(self.rehomes, key=lambda rehome: rehome.at):
            if rehome.wallet == label and rehome.at <= at:
                found = WalletSpec(rehome.agency, rehome.in_perimeter)
        return found

    def moments(self) -> list[datetime]:
        """Every time the scenario names: approvals, blocks and membership changes."""
        found = {move.approved_at for move in self.moves if move.approved_at}
        found |= {rehome.at for rehome in self.rehomes}
        found |= {block.at for move in self.moves for block in (move.block, move.remined) if block}
        return sorted(found)

    def heights(self) -> list[int]:
        return sorted({block.height for move in self.moves for block in (move.block, move.remined) if block})


# fmt: off
RESERVE = Scenario(
    name="reserve",
    agencies=("treasury", "bank", "idle"),  # idle has no wallet
    wallets={
        "cold": WalletSpec("treasury"),
        "vault": WalletSpec("treasury"),
        "bank": WalletSpec("bank"),
        "outside": WalletSpec("treasury", in_perimeter=False),
        "spare": WalletSpec("bank"),  # registered, never used
    },
    moves=(
        Move("seed", "imported", "inbound", 100 * BTC, destination="cold", category="forfeiture",
             block=Block(DAY - timedelta(days=10), 100)),
        # Mined before the quorum approved it: it moves, for flows, when it is approved.
        Move("late_approval", "confirmed", "inbound", 5 * BTC, destination="vault",
             approved_at=hours(1), block=Block(hours(0.5), 110)),
        Move("gift", "observed", "inbound", 2 * BTC, destination="cold", category="donation",
             block=Block(hours(2), 111)),
        # Approved early, never mined: weighs on every later window.
        Move("pending_out", "approved", "outbound", 4 * BTC, source="vault", category="return_to_victims",
             fee_sats=1_500, approved_at=hours(2.5)),
        Move("victims", "final", "outbound", 4 * BTC, source="cold", category="return_to_victims",
             fee_sats=2_000, approved_at=hours(3), block=Block(hours(4), 112)),
        Move("consolidate", "confirmed", "internal", 10 * BTC, source="cold", destination="vault",
             category="internal_consolidation", fee_sats=1_000, approved_at=hours(5),
             block=Block(hours(5.5), 113)),
        # Two postings in one block, at the moment of their approval.
        Move("to_bank", "confirmed", "internal", 3 * BTC, source="cold", destination="bank",
             category="internal_consolidation", fee_sats=500, approved_at=hours(6),
             block=Block(hours(6), 114)),
        Move("seized", "confirmed", "inbound", 1 * BTC, destination="bank", category="forfeiture",
             approved_at=hours(6), block=Block(hours(6), 114)),
        Move("to_outside", "confirmed", "internal", 2 * BTC, source="cold", destination="outside",
             category="other", fee_sats=300, approved_at=hours(7), block=Block(hours(7.2), 115)),
        Move("dropped", "reorged", "inbound", 7 * BTC, destination="vault", approved_at=hours(8),
             block=Block(hours(8.5), 116)),
        Move("remined", "reorged", "inbound", 7 * BTC // 10, destination="bank", category="mining_reward",
             approved_at=hours(8.25), block=Block(hours(8.6), 116), remined=Block(hours(9), 117)),
        Move("broadcast_out", "broadcast", "outbound", 3 * BTC // 2, source="cold",
             category="return_to_victims", fee_sats=700, approved_at=hours(9)),
        Move("pending_in", "approved", "inbound", 8 * BTC, destination="bank", category="forfeiture",
             approved_at=hours(9.5)),
        Move("cancelled_out", "cancelled", "outbound", 1 * BTC, source="vault", category="return_to_victims",
             fee_sats=100, approved_at=hours(10)),
        Move("failed_out", "failed", "outbound", BTC // 2, source="cold", category="return_to_victims",
             fee_sats=100, approved_at=hours(10.25)),
        Move("rejected_out", "rejected", "outbound", BTC // 4, source="cold", category="return_to_victims"),
        Move("drafted_in", "draft", "inbound", 9 * BTC, destination="bank"),
        Move("proposed_in", "pending_approval", "inbound", 9 * BTC, destination="cold", category="donation"),
        # Signed outside the system and seen on chain.
        Move("observed_out", "observed", "outbound", BTC // 10, source="bank", category="sale", fee_sats=200,
             block=Block(hours(11), 118)),
    ),
    quotes=((hours(1), "USD", "100000.00"), (hours(1), "EUR", "91234.56789"), (hours(6), "USD", "98765.4321")),
    fiat_totals=(
        ("public_funds", "USD", "2000000000.00", hours(2)),
        ("public_funds", "USD", "2100000000.00", hours(8)),
    ),
)

# Transfers that never moved or were withdrawn: they must count nowhere.
QUIET = Scenario(
    name="nothing moved",
    agencies=("treasury",),
    wallets={"cold": WalletSpec("treasury"), "spare": WalletSpec("treasury")},
    moves=(
        Move("drafted", "draft", "inbound", BTC, destination="cold"),
        Move("proposed", "pending_approval", "inbound", BTC, destination="cold", category="forfeiture"),
        Move("rejected", "rejected", "inbound", BTC, destination="cold"),
        Move("cancelled", "cancelled", "inbound", BTC, destination="cold", approved_at=hours(1)),
        Move("failed", "failed", "inbound", BTC, destination="spare", category="forfeiture", approved_at=hours(2)),
    ),
)

# A wallet emptied inside the perimeter, then (approved) moved to another agency outside it: what it
# held before counts where it was then, what it receives after counts where it is now, and a move
# from a perimeter wallet to it leaves the perimeter (an internal transfer, crossing the boundary).
REHOMED = Scenario(
    name="membership changes",
    agencies=("treasury", "bank"),
    wallets={"cold": WalletSpec("treasury"), "hop": WalletSpec("treasury"), "spare": WalletSpec("bank", False)},
    moves=(
        Move("seed", "imported", "inbound", 10 * BTC, destination="hop", category="forfeiture",
             block=Block(DAY - timedelta(days=10), 100)),
        Move("empty", "confirmed", "internal", 10 * BTC, source="hop", destination="cold",
             category="internal_consolidation", approved_at=hours(1), block=Block(hours(1.5), 110)),
        Move("after", "confirmed", "inbound", 3 * BTC, destination="hop", category="donation",
             approved_at=hours(3), block=Block(hours(3.5), 111)),
        Move("across", "confirmed", "internal", 2 * BTC, source="cold", destination="hop",
             category="internal_consolidation", fee_sats=400, approved_at=hours(5), block=Block(hours(5.5), 112)),
        Move("back", "approved", "internal", 1 * BTC, source="hop", destination="cold",
             category="internal_consolidation", fee_sats=300, approved_at=hours(7)),
        Move("spare_in", "confirmed", "inbound", BTC // 2, destination="spare", category="purchase",
             approved_at=hours(8), block=Block(hours(8.5), 113)),
    ),
    rehomes=(Rehome("hop", hours(2), "bank", False), Rehome("spare", hours(7.5), "treasury", True)),
)

# The Marshals' wallet (a government wallet outside the perimeter) receives forfeited and bought
# coins, then moves some of each into the reserve: what enters counts by the lots it moves.
PROVENANCE = Scenario(
    name="provenance",
    agencies=("treasury", "marshals"),
    wallets={"cold": WalletSpec("treasury"), "vault": WalletSpec("treasury"),
             "marshals": WalletSpec("marshals", in_perimeter=False)},
    moves=(
        Move("forfeited", "imported", "inbound", 3 * BTC, destination="marshals", category="forfeiture",
             block=Block(DAY - timedelta(days=10), 100)),
        Move("bought", "confirmed", "inbound", 2 * BTC, destination="marshals", category="purchase",
             approved_at=hours(1), block=Block(hours(1.5), 110)),
        # 3 BTC of forfeiture and 1 BTC of purchase arrive; the fee is what the purchase lot loses.
        Move("handover", "confirmed", "internal", 4 * BTC, source="marshals", destination="cold",
             category="agency_consolidation", fee_sats=1_000, approved_at=hours(2), block=Block(hours(2.5), 111)),
        # Approved, not mined: it would take what is left of the purchase lot.
        Move("handover_pending", "approved", "internal", BTC // 2, source="marshals", destination="vault",
             category="agency_consolidation", fee_sats=500, approved_at=hours(3)),
        Move("bought_direct", "confirmed", "inbound", BTC, destination="cold", category="purchase",
             approved_at=hours(4), block=Block(hours(4.5), 112)),
        # Within the perimeter (by its own category there), into the vault (by its lots there).
        Move("onward", "confirmed", "internal", 7 * BTC // 2, source="cold", destination="vault",
             category="internal_consolidation", fee_sats=500, approved_at=hours(5), block=Block(hours(5.5), 113)),
    ),
)

# fmt: on

SCENARIOS = (RESERVE, QUIET, REHOMED, PROVENANCE)
UNKNOWN = "unknown"  # a wallet no scenario registers


# ---- loading a scenario into either implementation ----------------------------------------


@dataclass
class Loaded:
    """Facts holding a scenario, and what its labels became there."""

    facts: PolicyFacts
    wallets: dict[str, int]
    agencies: dict[str, int]
    subjects: dict[str, tuple[str, str]]
    reorged_at: dict[str, datetime] = field(default_factory=dict)  # when each reorg reversed its posting


def _change(
    move: Move,
    scenario: Scenario,
    wallets: dict[str, int],
    agencies: dict[str, int],
    subject: tuple[str, str],
    *,
    at: datetime,
    block: Block | None,
) -> ProposedChange:
    # Each end as its membership then in force: posted, where it moved (the later of block and
    # approval); pending, at its approval.
    judged_at = max(at, move.approved_at or at)
    source = scenario.membership(move.source, judged_at) if move.source else None
    destination = scenario.membership(move.destination, judged_at) if move.destination else None
    return ProposedChange(
        direction=move.direction,
        category=move.category,
        amount_sats=move.amount_sats,
        fee_sats=move.fee_sats,
        at=at,
        source_wallet_id=wallets[move.source] if move.source else None,
        destination_wallet_id=wallets[move.destination] if move.destination else None,
        source_agency_id=agencies[source.agency] if source else None,
        destination_agency_id=agencies[destination.agency] if destination else None,
        source_in_perimeter=bool(source and source.in_perimeter),
        destination_in_perimeter=bool(destination and destination.in_perimeter),
        block_height=block.height if block else None,
        # what the real side's services record: the proposal's reference (none for what was only seen)
        provenance_reference="" if move.status == "observed" else f"Order {move.label}",
        subject_type=subject[0],
        subject_id=subject[1],
    )


def load_memory(scenario: Scenario, *, reorged_at: dict[str, datetime] | None = None) -> Loaded:
    """The scenario booked into MemoryFacts; reorgs happen at `reorged_at` (default: now)."""
    wallets = {label: 1 + index for index, label in enumerate(scenario.wallets)}
    agencies = {label: 101 + index for index, label in enumerate(scenario.agencies)}
    subjects = {move.label: ("reserve.transfer", str(1_001 + index)) for index, move in enumerate(scenario.moves)}
    facts = MemoryFacts()
    facts.wallets.update(wallets.values())
    loaded = Loaded(facts, wallets, agencies, subjects)
    facts.quotes += [(at, currency, Decimal(price)) for at, currency, price in scenario.quotes]
    facts.fiat_totals += [
        (name, FiatAmount(Decimal(amount), currency, as_of)) for name, currency, amount, as_of in scenario.fiat_totals
    ]
    for move in scenario.moves:

        def change(at: datetime, block: Block | None, move: Move = move) -> ProposedChange:
            return _change(move, scenario, wallets, agencies, subjects[move.label], at=at, block=block)

        if move.status in PENDING:
            assert move.approved_at is not None
            facts.book(change(move.approved_at, None), pending=True, approved_at=move.approved_at)
        elif move.status in POSTED:
            assert move.block is not None
            mined = change(move.block.at, move.block)
            facts.book(mined, approved_at=move.approved_at)
            if move.status == "reorged":
                loaded.reorged_at[move.label] = (reorged_at or {}).get(move.label, datetime.now(UTC))
                facts.reorg(mined, at=loaded.reorged_at[move.label])
                if move.remined:
                    facts.book(change(move.remined.at, move.remined), approved_at=move.approved_at)
    return loaded


# Distinct watched scripts for up to five wallets (a wallet's scripts are its own).
DESCRIPTORS = (
    f"wpkh([73c5da0a/84h/1h/0h]{TPUB_A}/<0;1>/*)",
    f"wpkh([b8688df1/84h/1h/0h]{TPUB_B}/<0;1>/*)",
    f"wpkh([73c5da0a/84h/1h/1h]{TPUB_C}/<0;1>/*)",
    f"pkh([73c5da0a/44h/1h/0h]{TPUB_A}/<0;1>/*)",
    f"pkh([b8688df1/44h/1h/0h]{TPUB_B}/<0;1>/*)",
)


@dataclass
class Clock:
    """What `django.utils.timezone.now()` answers while a scenario is loaded: approvals are
    stamped at the times the scenario names."""

    now: datetime


def _mine(transfer: Transfer, move: Move, block: Block) -> Transfer:
    return transfer_confirm(
        transfer=transfer,
        txid=fake_hash(f"tx:{move.label}"),
        vout=0,
        block_height=block.height,
        block_hash=fake_hash(f"block:{block.height}"),
        occurred_at=block.at,
    )


def _import(move: Move, wallets: dict[str, Wallet], operator: Any) -> Transfer:
    assert move.block is not None and move.destination is not None and move.direction == "inbound"
    whole, fraction = divmod(move.amount_sats, BTC)
    text = (
        "occurred_at,direction,category,amount_btc,txid,block_height,destination_wallet,provenance_reference\n"
        f"{move.block.at.isoformat()},inbound,{move.category},{whole}.{fraction:08d},"
        f"{fake_hash(f'tx:{move.label}')},{move.block.height},{wallets[move.destination].name},Order {move.label}\n"
    )
    return import_transfers(text=text, proposer=operator)[0]


def load_real(scenario: Scenario, clock: Clock) -> Loaded:
    """The scenario made through reserve's services: agencies, wallets, then each move in turn."""
    clock.now = min(scenario.moments(), default=DAY)
    operator = make_user("olga", "operator")
    approvers = (make_user("ana", "approver"), make_user("bruno", "approver"))
    agencies = {label: agency_create(name=f"Agency {label}", actor=operator) for label in scenario.agencies}
    wallets = {
        label: wallet_register(
            name=label,
            agency=agencies[spec.agency],
            kind="cold",
            network="regtest",
            in_perimeter=spec.in_perimeter,
            gap_limit=2,
            descriptors=[descriptor],
            actor=operator,
        )
        for (label, spec), descriptor in zip(scenario.wallets.items(), DESCRIPTORS, strict=False)
    }
    loaded = Loaded(
        ReservePolicyFacts(),
        {label: wallet.pk for label, wallet in wallets.items()},
        {label: agency.pk for label, agency in agencies.items()},
        {},
    )
    rehomes = sorted(scenario.rehomes, key=lambda rehome: rehome.at)
    for move in scenario.moves:
        step = move.approved_at or (move.block.at if move.block else None)
        while rehomes and step is not None and rehomes[0].at <= step:
            _rehome(rehomes.pop(0), wallets, agencies, operator, approvers[0], clock)
        clock.now = max(clock.now, step or clock.now)
        if move.status == "imported":
            transfer = _import(move, wallets, operator)
        elif move.status == "observed":
            assert move.block is not None
            transfer, _ = transfer_record_observed(
                direction=move.direction,
                category=move.category,
                amount_sats=move.amount_sats,
                fee_sats=move.fee_sats,
                txid=fake_hash(f"tx:{move.label}"),
                vout=0,
                block_height=move.block.height,
                block_hash=fake_hash(f"block:{move.block.height}"),
                occurred_at=move.block.at,
                source_wallet=wallets[move.source] if move.source else None,
                destination_wallet=wallets[move.destination] if move.destination else None,
                external_address=REGTEST_EXTERNAL if move.direction == "outbound" else "",
            )
        else:
            transfer = _take_through_its_life(move, wallets, operator, approvers, loaded)
        loaded.subjects[move.label] = ("reserve.transfer", str(transfer.pk))
        assert Transfer.objects.get(pk=transfer.pk).status == _status_after(move)
    for rehome in rehomes:
        _rehome(rehome, wallets, agencies, operator, approvers[0], clock)
    for at, currency, price in scenario.quotes:
        PriceQuote.objects.create(at=at, currency=currency, price=Decimal(price), source="contract")
    if scenario.fiat_totals:
        admin = make_user("paula", "policy_admin")
        for name, currency, amount, as_of in scenario.fiat_totals:
            fiat_total_record(actor=admin, name=name, currency=currency, amount=amount, as_of=as_of, reference="Budget")
    return loaded


def _rehome(
    rehome: Rehome, wallets: dict[str, Wallet], agencies: dict[str, Agency], operator: Any, approver: Any, clock: Clock
) -> None:
    """The membership change proposed by the operator and approved by an approver at its moment."""
    clock.now = rehome.at
    proposal = membership_propose(
        wallet=wallets[rehome.wallet],
        actor=operator,
        agency=agencies[rehome.agency],
        in_perimeter=rehome.in_perimeter,
        reason=f"Decree {rehome.wallet}",
    )
    assert membership_approve(membership=proposal, actor=approver).effective_from == rehome.at


def _status_after(move: Move) -> str:
    if move.status == "reorged" and move.remined:
        return "confirmed"
    return {"imported": "final", "observed": "confirmed"}.get(move.status, move.status)


def _take_through_its_life(
    move: Move, wallets: dict[str, Wallet], operator: Any, approvers: tuple[Any, Any], loaded: Loaded
) -> Transfer:
    transfer = transfer_create(
        actor=operator,
        direction=move.direction,
        category=move.category,
        amount_sats=move.amount_sats,
        fee_sats=move.fee_sats,
        source_wallet=wallets[move.source] if move.source else None,
        destination_wallet=wallets[move.destination] if move.destination else None,
        external_address=REGTEST_EXTERNAL if move.direction == "outbound" else "",
        provenance_reference=f"Order {move.label}",
    )
    if move.status == "draft":
        return transfer
    transfer = transfer_propose(transfer=transfer, actor=operator)
    if move.status == "pending_approval":
        return transfer
    if move.status == "rejected":
        return transfer_reject(transfer=transfer, actor=approvers[0], comment="not this one")
    for approver in approvers:
        transfer = transfer_approve(transfer=transfer, actor=approver)
    assert transfer.approved_at == move.approved_at
    if move.status == "cancelled":
        return transfer_cancel(transfer=transfer, actor=operator, reason="withdrawn")
    if move.status == "failed":
        return transfer_mark_failed(transfer=transfer, actor=operator, reason="never mined")
    if move.status == "broadcast":
        return transfer_mark_broadcast(transfer=transfer, actor=operator, txid=fake_hash(f"tx:{move.label}"))
    if move.status == "approved":
        return transfer
    assert move.block is not None
    transfer = _mine(transfer, move, move.block)
    if move.status == "final":
        return transfer_finalize(transfer=transfer, tip_height=move.block.height + 1_000)
    if move.status == "reorged":
        transfer = transfer_mark_reorged(transfer=transfer)
        assert transfer.reversal_transaction is not None
        loaded.reorged_at[move.label] = transfer.reversal_transaction.occurred_at
        if move.remined:
            transfer = _mine(transfer, move, move.remined)
    return transfer


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    current = Clock(DAY)
    monkeypatch.setattr(timezone, "now", lambda: current.now)
    yield current


Loader = Callable[[Scenario], Loaded]


@pytest.fixture(params=["memory", "real"])
def load(request: pytest.FixtureRequest) -> Loader:
    """Loads a scenario into one implementation; the clauses below run against each."""
    if request.param == "memory":
        return load_memory
    request.getfixturevalue("transactional_db")
    clock: Clock = request.getfixturevalue("clock")
    return lambda scenario: load_real(scenario, clock)


# ---- questions, asked the same way of either implementation --------------------------------


@dataclass(frozen=True)
class ScopeOf:
    kind: ScopeKind
    label: str = ""


@dataclass(frozen=True)
class WalletOf:
    label: str


@dataclass(frozen=True)
class SubjectOf:
    label: str


@dataclass(frozen=True)
class Question:
    method: str
    arguments: tuple[tuple[str, Any], ...]

    def __str__(self) -> str:
        return f"{self.method}({', '.join(f'{name}={value}' for name, value in self.arguments)})"


def ask(method: str, **arguments: Any) -> Question:
    return Question(method, tuple(arguments.items()))


DOES_NOT_EXIST = "does not exist"


def answer(loaded: Loaded, question: Question) -> Any:
    def resolve(value: Any) -> Any:
        if isinstance(value, ScopeOf):
            if value.kind == "perimeter":
                return PolicyScope("perimeter")
            return PolicyScope(value.kind, resolve_id(value.kind, value.label))
        if isinstance(value, WalletOf):
            return resolve_id("wallet", value.label)
        if isinstance(value, SubjectOf):
            return loaded.subjects[value.label]
        return value

    def resolve_id(kind: str, label: str) -> int:
        known = loaded.wallets if kind == "wallet" else loaded.agencies
        return known.get(label, max(known.values(), default=0) + 1_000)  # UNKNOWN: an id nothing has

    try:
        found = getattr(loaded.facts, question.method)(**{name: resolve(value) for name, value in question.arguments})
    except ObjectDoesNotExist:
        return DOES_NOT_EXIST
    if question.method == "lots_moved":
        # Lot ids are each implementation's own numbering; the lots are compared by what they are.
        return [(share.sats, share.acquired_at, share.category, share.provenance_reference) for share in found]
    return found


def windows(scenario: Scenario) -> list[tuple[datetime, datetime]]:
    """[since, until): everything, from each moment on (since is inclusive) and up to each
    moment (until is exclusive)."""
    moments = scenario.moments()
    return [(FAR_PAST, END_OF_BOOKS), *((moment, END_OF_BOOKS) for moment in moments)] + [
        (FAR_PAST, moment) for moment in moments
    ]


def questions(scenario: Scenario) -> list[Question]:
    """The grid of questions asked of both implementations, for every Protocol method: every
    scope (and a wallet nobody registered) at, from and up to every moment and height of the
    scenario; flows and inflows only of the scopes something crossed, and of that wallet."""
    wallets = (*scenario.wallets, UNKNOWN)
    scopes = [ScopeOf("perimeter")]
    scopes += [ScopeOf("agency", label) for label in scenario.agencies]
    scopes += [ScopeOf("wallet", label) for label in wallets]
    ends = {label for move in scenario.moves for label in (move.source, move.destination) if label}
    crossed = {"", UNKNOWN} | ends | {scenario.wallets[label].agency for label in ends}
    crossed |= {rehome.agency for rehome in scenario.rehomes}
    moments = scenario.moments()
    points = [point for moment in moments for point in (moment - MICROSECOND, moment)]  # `at` is inclusive
    heights = [min(scenario.heights(), default=1) - 1, *scenario.heights()]
    categories = sorted({move.category for move in scenario.moves})
    judged = [SubjectOf(move.label) for move in scenario.moves if move.status in PENDING]
    judged += [SubjectOf(move.label) for move in scenario.moves if move.status in POSTED][:1]
    everything = {"since": FAR_PAST, "until": END_OF_BOOKS}
    asked: list[Question] = []
    for wallet in wallets:
        asked += [ask("wallet_balance_sats", wallet_id=WalletOf(wallet), at=at) for at in (None, *points)]
    for scope in scopes:
        asked.append(ask("encumbered_sats", scope=scope))
        asked.append(ask("liabilities_sats", scope=scope))
        asked.append(ask("holdings_sats", scope=scope))
        asked += [ask("holdings_sats", scope=scope, at=at) for at in points]
        asked += [ask("holdings_sats", scope=scope, height=height) for height in heights]
        asked += [ask("holdings_sats", scope=scope, at=at, height=heights[0]) for at in moments[-1:]]
        asked += [ask("holdings_changes", scope=scope, since=since, until=until) for since, until in windows(scenario)]
    for scope in (scope for scope in scopes if scope.label in crossed):
        for direction in DIRECTIONS:
            flow = {"scope": scope, "direction": direction}
            asked += [ask("flow_sats", **flow, since=since, until=until) for since, until in windows(scenario)]
            asked += [
                ask("flow_sats", **flow, since=since, until=until, include_pending=False)
                for since, until in windows(scenario)
                if until == END_OF_BOOKS
            ]
            asked += [
                ask("flow_sats", **flow, **everything, categories=kept)
                for kept in ([], *([category] for category in categories), ["purchase", "forfeiture"])
            ]
            asked += [
                ask("flow_sats", **flow, **everything, excluding_subject=subject)
                for subject in [*judged, ("policy.policyversion", "1")]
            ]
        for kept in (["forfeiture", "donation"], categories):
            exempt: dict[str, Any] = {"scope": scope, "categories": kept}
            asked += [ask("exempt_inflows_sats", **exempt, since=None, since_height=None, until=at) for at in moments]
            asked += [
                ask("exempt_inflows_sats", **exempt, since=at, since_height=None, until=END_OF_BOOKS) for at in moments
            ]
            asked += [
                ask("exempt_inflows_sats", **exempt, since=None, since_height=height, until=END_OF_BOOKS)
                for height in heights
            ]
            asked += [
                ask("exempt_inflows_sats", **exempt, since=at, since_height=height, until=END_OF_BOOKS)
                for at, height in zip(moments[::3], heights[1::2], strict=False)
            ]
    # The lots an outflow of each size would take from each wallet, and those each posted outflow took.
    for wallet in wallets:
        asked += [ask("lots_moved", wallet_id=WalletOf(wallet), sats=sats) for sats in (1, BTC, 3 * BTC, 10**15)]
        asked += [
            ask("lots_moved", wallet_id=WalletOf(move.source), sats=move.held_sats, subject=SubjectOf(move.label))
            for move in scenario.moves
            if move.source == wallet and move.status in POSTED
        ]
    # Fiat answers around each quote and recorded total (a scenario with neither asks none).
    fiat_points = [
        point
        for moment in sorted({quote[0] for quote in scenario.quotes} | {total[3] for total in scenario.fiat_totals})
        for point in (moment - MICROSECOND, moment)
    ]
    for at in fiat_points:
        asked += [
            ask("fiat_value", sats=sats, currency=currency, at=at)
            for sats in (0, 1, 5, 123_456_789_012)
            for currency in ("USD", "EUR")
        ]
        asked += [ask("fiat_total", name=name, at=at) for name in ("public_funds", "unrecorded")]
    return asked


# ---- the fake and the real facts agree ------------------------------------------------------


def protocol_methods() -> set[str]:
    return {name for name, _ in inspect.getmembers(PolicyFacts, inspect.isfunction) if not name.startswith("_")}


def test_every_method_of_the_protocol_is_asked_of_both() -> None:
    asked = {question.method for scenario in SCENARIOS for question in questions(scenario)}

    # Reports made are not movements: tests/reserve/compliance/test_reports_filed.py asks both.
    assert asked == protocol_methods() - {"reports_filed"}


def parameters(method: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(method).parameters.values()]


@pytest.mark.parametrize("implementation", [MemoryFacts, ReservePolicyFacts])
def test_each_implementation_takes_the_protocols_arguments(implementation: type) -> None:
    for name in protocol_methods():
        assert parameters(getattr(implementation, name)) == parameters(getattr(PolicyFacts, name)), name


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.name)
def test_the_fake_and_the_real_facts_give_the_same_answers(scenario: Scenario, clock: Clock) -> None:
    real = load_real(scenario, clock)
    memory = load_memory(scenario, reorged_at=real.reorged_at)  # the database stamps a reorg with its clock

    answers = [(question, answer(memory, question), answer(real, question)) for question in questions(scenario)]

    disagreements = [
        f"{question}: fake {fake!r}, real {actual!r}" for question, fake, actual in answers if fake != actual
    ]
    assert not disagreements, f"{len(disagreements)} of {len(answers)} answers differ:\n" + "\n".join(
        disagreements[:25]
    )


# ---- the clauses of the Protocol, for each implementation -----------------------------------

PERIMETER = ScopeOf("perimeter")


def wallet(label: str) -> ScopeOf:
    return ScopeOf("wallet", label)


def flow(loaded: Loaded, scope: ScopeOf, direction: str, since: datetime, until: datetime, **extra: Any) -> Any:
    return answer(loaded, ask("flow_sats", scope=scope, direction=direction, since=since, until=until, **extra))


def holdings(loaded: Loaded, scope: ScopeOf, **as_of: Any) -> Any:
    return answer(loaded, ask("holdings_sats", scope=scope, **as_of))


def test_a_reservation_weighs_on_every_window_that_ends_after_its_approval(load: Loader) -> None:
    loaded = load(RESERVE)
    pending = RESERVE.move("pending_out")
    assert pending.approved_at is not None
    hours_later = pending.approved_at + timedelta(hours=7)  # no posted outflow from the vault since

    assert flow(loaded, wallet("vault"), "outbound", hours_later, hours_later + timedelta(hours=1)) == (
        pending.amount_sats
    )
    assert flow(loaded, wallet("vault"), "outbound", FAR_PAST, pending.approved_at + MICROSECOND) == pending.amount_sats
    assert flow(loaded, wallet("vault"), "outbound", FAR_PAST, pending.approved_at) == 0
    assert flow(loaded, wallet("vault"), "outbound", FAR_PAST, END_OF_BOOKS, include_pending=False) == 0


def test_a_posted_transfer_moves_at_the_later_of_its_block_and_its_approval(load: Loader) -> None:
    loaded = load(RESERVE)
    late, victims = RESERVE.move("late_approval"), RESERVE.move("victims")
    assert late.block and late.approved_at and victims.block and victims.approved_at
    assert late.block.at < late.approved_at and victims.approved_at < victims.block.at

    assert flow(loaded, wallet("vault"), "inbound", late.block.at, late.approved_at) == 0
    assert flow(loaded, wallet("vault"), "inbound", late.approved_at, late.approved_at + MICROSECOND) == (
        late.amount_sats
    )
    assert flow(loaded, wallet("cold"), "outbound", victims.approved_at, victims.block.at) == 0
    assert flow(loaded, wallet("cold"), "outbound", victims.block.at, victims.block.at + MICROSECOND) == (
        victims.amount_sats
    )
    # while holdings count it from its block
    assert holdings(loaded, wallet("vault"), at=late.block.at) == late.amount_sats


def test_the_change_being_judged_is_left_out_of_its_own_flow(load: Loader) -> None:
    loaded = load(RESERVE)
    everything = flow(loaded, PERIMETER, "outbound", FAR_PAST, END_OF_BOOKS)

    for label in ("pending_out", "victims"):
        left_out = flow(loaded, PERIMETER, "outbound", FAR_PAST, END_OF_BOOKS, excluding_subject=SubjectOf(label))
        assert everything - left_out == RESERVE.move(label).amount_sats
    # a subject of another kind is not a transfer, whatever its id
    other_kind = ("policy.policyversion", loaded.subjects["pending_out"][1])
    assert flow(loaded, PERIMETER, "outbound", FAR_PAST, END_OF_BOOKS, excluding_subject=other_kind) == everything


def test_flows_cross_the_scope_they_are_asked_about(load: Loader) -> None:
    loaded = load(RESERVE)
    to_outside, to_bank, consolidate = (RESERVE.move(label) for label in ("to_outside", "to_bank", "consolidate"))

    def crossing(scope: ScopeOf, direction: str) -> Any:
        return flow(loaded, scope, direction, FAR_PAST, END_OF_BOOKS, categories=["other", "internal_consolidation"])

    # leaving the perimeter for a wallet outside it is an outflow of the perimeter, internal to the agency
    assert crossing(PERIMETER, "outbound") == to_outside.amount_sats
    assert crossing(ScopeOf("agency", "treasury"), "outbound") == to_bank.amount_sats
    assert crossing(ScopeOf("agency", "treasury"), "internal") == to_outside.amount_sats + consolidate.amount_sats
    assert crossing(PERIMETER, "internal") == to_bank.amount_sats + consolidate.amount_sats
    # entering a scope, the coins count as their lots were acquired: cold's oldest, forfeited
    assert crossing(wallet("outside"), "inbound") == 0
    assert flow(loaded, wallet("outside"), "inbound", FAR_PAST, END_OF_BOOKS, categories=["forfeiture"]) == (
        to_outside.amount_sats
    )


def test_an_inflow_from_one_of_our_wallets_counts_by_the_lots_it_moves_split_by_amount(load: Loader) -> None:
    loaded = load(PROVENANCE)
    handover, pending, direct, onward = (
        PROVENANCE.move(label) for label in ("handover", "handover_pending", "bought_direct", "onward")
    )

    def inbound(scope: ScopeOf, categories: list[str], **extra: Any) -> Any:
        return flow(loaded, scope, "inbound", FAR_PAST, END_OF_BOOKS, categories=categories, **extra)

    # handover: 3 BTC forfeiture + 1 BTC purchase; pending: 0.5 BTC purchase; direct: 1 BTC as tagged
    assert inbound(PERIMETER, ["purchase"]) == BTC + pending.amount_sats + direct.amount_sats
    assert inbound(PERIMETER, ["forfeiture"]) == 3 * BTC
    assert inbound(PERIMETER, ["purchase", "forfeiture"]) == handover.amount_sats + pending.amount_sats + BTC
    assert inbound(PERIMETER, ["agency_consolidation"]) == 0  # every coin it moved had a lot
    assert inbound(PERIMETER, ["purchase"], include_pending=False) == BTC + direct.amount_sats
    assert inbound(PERIMETER, ["purchase"], excluding_subject=SubjectOf("handover_pending")) == 2 * BTC
    assert flow(loaded, PERIMETER, "inbound", FAR_PAST, END_OF_BOOKS) == (
        handover.amount_sats + pending.amount_sats + direct.amount_sats
    )
    # onward (cold to vault): within the perimeter by its own category, into the vault by its lots
    assert flow(loaded, PERIMETER, "internal", FAR_PAST, END_OF_BOOKS, categories=["internal_consolidation"]) == (
        onward.amount_sats
    )
    assert inbound(wallet("vault"), ["forfeiture"]) == 3 * BTC
    assert inbound(wallet("vault"), ["purchase"]) == onward.amount_sats - 3 * BTC + pending.amount_sats
    assert inbound(wallet("vault"), ["internal_consolidation", "agency_consolidation"]) == 0
    # the Marshals' wallet received from outside: each as tagged
    assert inbound(wallet("marshals"), ["purchase"]) == 2 * BTC


def test_an_approved_outflow_encumbers_its_amount_and_fee_until_it_is_mined(load: Loader) -> None:
    loaded = load(RESERVE)
    pending, broadcast = RESERVE.move("pending_out"), RESERVE.move("broadcast_out")

    def encumbered(scope: ScopeOf) -> Any:
        return answer(loaded, ask("encumbered_sats", scope=scope))

    # cancelled_out, failed_out and rejected_out hold nothing; pending_in is an inflow
    assert encumbered(wallet("vault")) == pending.held_sats
    assert encumbered(wallet("cold")) == broadcast.held_sats
    assert encumbered(PERIMETER) == encumbered(ScopeOf("agency", "treasury")) == pending.held_sats + broadcast.held_sats
    assert encumbered(ScopeOf("agency", "bank")) == 0


def test_a_reorged_posting_counts_by_time_until_the_reorg_and_never_by_height(load: Loader) -> None:
    loaded = load(RESERVE)
    dropped = RESERVE.move("dropped")
    assert dropped.block is not None
    before = holdings(loaded, wallet("vault"), at=dropped.block.at - MICROSECOND)
    reorged_at = loaded.reorged_at["dropped"]

    assert holdings(loaded, wallet("vault"), at=dropped.block.at) == before + dropped.amount_sats
    assert holdings(loaded, wallet("vault"), at=reorged_at) == before  # nothing else moved the vault since
    assert holdings(loaded, wallet("vault"), height=dropped.block.height) == holdings(
        loaded, wallet("vault"), height=dropped.block.height - 1
    )
    assert answer(
        loaded, ask("holdings_changes", scope=wallet("vault"), since=dropped.block.at, until=END_OF_BOOKS)
    ) == [
        (dropped.block.at, dropped.block.height, before + dropped.amount_sats),
        (reorged_at, dropped.block.height, before),
    ]
    assert flow(loaded, wallet("vault"), "inbound", dropped.block.at - timedelta(hours=1), END_OF_BOOKS) == 0


def test_a_reorged_transfer_mined_again_counts_once_in_its_new_block(load: Loader) -> None:
    loaded = load(RESERVE)
    remined = RESERVE.move("remined")
    assert remined.block and remined.remined

    def at_height(height: int) -> Any:
        return holdings(loaded, wallet("bank"), height=height)

    assert at_height(remined.block.height) == at_height(remined.block.height - 1)
    assert at_height(remined.remined.height) - at_height(remined.remined.height - 1) == remined.amount_sats
    assert flow(loaded, wallet("bank"), "inbound", remined.block.at, remined.remined.at) == 0
    assert flow(loaded, wallet("bank"), "inbound", remined.remined.at, remined.remined.at + MICROSECOND) == (
        remined.amount_sats
    )


def test_postings_in_one_block_are_changes_of_their_own_in_posting_order(load: Loader) -> None:
    loaded = load(RESERVE)
    to_bank, seized = RESERVE.move("to_bank"), RESERVE.move("seized")
    assert to_bank.block == seized.block and to_bank.block is not None
    block = to_bank.block
    before = holdings(loaded, wallet("bank"), at=block.at - MICROSECOND)

    changes = answer(
        loaded, ask("holdings_changes", scope=wallet("bank"), since=block.at, until=block.at + MICROSECOND)
    )

    assert changes == [
        (block.at, block.height, before + to_bank.amount_sats),
        (block.at, block.height, before + to_bank.amount_sats + seized.amount_sats),
    ]
    assert changes[-1][2] == holdings(loaded, wallet("bank"), at=block.at)


def test_exempt_inflows_are_booked_inflows_of_the_categories_after_the_baseline(load: Loader) -> None:
    loaded = load(RESERVE)
    seed, gift, seized = (RESERVE.move(label) for label in ("seed", "gift", "seized"))
    assert seed.block and gift.block
    exempt = ["forfeiture", "donation"]  # pending_in (forfeiture) and proposed_in (donation) are not booked

    def inflows(since: datetime | None = None, since_height: int | None = None, until: datetime = END_OF_BOOKS) -> Any:
        question = ask(
            "exempt_inflows_sats",
            scope=PERIMETER,
            since=since,
            since_height=since_height,
            until=until,
            categories=exempt,
        )
        return answer(loaded, question)

    assert inflows() == seed.amount_sats + gift.amount_sats + seized.amount_sats
    assert (
        inflows(since=seed.block.at) == inflows(since_height=seed.block.height) == gift.amount_sats + seized.amount_sats
    )
    assert inflows(until=gift.block.at - MICROSECOND) == seed.amount_sats
    assert inflows(until=gift.block.at) == seed.amount_sats + gift.amount_sats


def test_a_scope_holds_what_its_wallets_hold(load: Loader) -> None:
    loaded = load(RESERVE)
    members = {
        PERIMETER: [label for label, spec in RESERVE.wallets.items() if spec.in_perimeter],
        **{
            ScopeOf("agency", agency): [label for label, spec in RESERVE.wallets.items() if spec.agency == agency]
            for agency in RESERVE.agencies
        },
    }
    as_ofs: list[dict[str, Any]] = [{}]
    as_ofs += [{"at": moment} for moment in RESERVE.moments()]
    as_ofs += [{"height": height} for height in RESERVE.heights()]

    for scope, labels in members.items():
        for as_of in as_ofs:
            assert holdings(loaded, scope, **as_of) == sum(holdings(loaded, wallet(label), **as_of) for label in labels)
    for label in RESERVE.wallets:
        for at in (None, *RESERVE.moments()):
            balance = answer(loaded, ask("wallet_balance_sats", wallet_id=WalletOf(label), at=at))
            assert balance == holdings(loaded, wallet(label), at=at)
    assert holdings(loaded, PERIMETER) > 0  # the sums above are not all of nothing


def test_a_wallet_nobody_registered_has_no_balance_to_read(load: Loader) -> None:
    loaded = load(RESERVE)

    assert answer(loaded, ask("wallet_balance_sats", wallet_id=WalletOf(UNKNOWN))) == DOES_NOT_EXIST
    assert answer(loaded, ask("wallet_balance_sats", wallet_id=WalletOf("spare"))) == 0
    assert holdings(loaded, wallet(UNKNOWN)) == holdings(loaded, ScopeOf("agency", "idle")) == 0


def test_given_both_a_time_and_a_height_holdings_are_read_at_the_time(load: Loader) -> None:
    loaded = load(RESERVE)
    seed, gift = RESERVE.move("seed"), RESERVE.move("gift")
    assert seed.block and gift.block
    by_time, by_height = (
        holdings(loaded, wallet("cold"), at=gift.block.at),
        holdings(loaded, wallet("cold"), height=seed.block.height),
    )
    assert by_time != by_height

    assert holdings(loaded, wallet("cold"), at=gift.block.at, height=seed.block.height) == by_time


LISTS = ("holdings_changes", "lots_moved")


def test_transfers_that_never_moved_count_nowhere(load: Loader) -> None:
    loaded = load(QUIET)

    asked = questions(QUIET)

    for question in asked:
        unreadable = question.method == "wallet_balance_sats" and question.arguments[0][1] == WalletOf(UNKNOWN)
        assert answer(loaded, question) == (DOES_NOT_EXIST if unreadable else [] if question.method in LISTS else 0)
    # Every question about movements (prices and fiat totals are not movements; QUIET has none).
    assert {question.method for question in asked} == protocol_methods() - {"fiat_value", "fiat_total", "reports_filed"}


def test_membership_is_judged_at_each_point_by_the_membership_then_in_force(load: Loader) -> None:
    loaded = load(REHOMED)
    bank, treasury = ScopeOf("agency", "bank"), ScopeOf("agency", "treasury")
    cold_now = 10 * BTC - 2 * BTC - 400

    # Before hop was emptied and moved, its 10 BTC were the perimeter's (history is not restated).
    assert holdings(loaded, PERIMETER, at=hours(1)) == holdings(loaded, treasury, at=hours(1)) == 10 * BTC
    assert holdings(loaded, PERIMETER, height=100) == 10 * BTC
    assert holdings(loaded, bank, at=hours(1)) == 0
    # What hop received after it left counts for its new agency, outside the perimeter.
    assert holdings(loaded, PERIMETER, at=hours(4)) == 10 * BTC
    assert holdings(loaded, bank, at=hours(4)) == 3 * BTC
    # A move from a perimeter wallet to a government wallet outside it leaves the perimeter,
    # and the way back (approved, not yet mined) enters it.
    assert flow(loaded, PERIMETER, "outbound", FAR_PAST, END_OF_BOOKS) == 2 * BTC
    assert flow(loaded, PERIMETER, "internal", FAR_PAST, END_OF_BOOKS) == 10 * BTC
    assert flow(loaded, PERIMETER, "inbound", FAR_PAST, END_OF_BOOKS) == 10 * BTC + 1 * BTC + BTC // 2
    assert flow(loaded, bank, "inbound", FAR_PAST, END_OF_BOOKS) == 3 * BTC + 2 * BTC
    # spare joined the perimeter (and treasury) empty; what it bought then is the perimeter's.
    assert holdings(loaded, PERIMETER) == cold_now + BTC // 2
    assert holdings(loaded, bank) == 5 * BTC
    changes = answer(loaded, ask("holdings_changes", scope=PERIMETER, since=FAR_PAST, until=END_OF_BOOKS))
    # hop's consolidation into cold stayed within the perimeter; its move across left it.
    assert [total for _, _, total in changes] == [10 * BTC, cold_now, cold_now + BTC // 2]
