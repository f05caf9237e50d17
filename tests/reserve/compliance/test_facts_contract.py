"""One contract for the policy engine's facts: the in-memory fake the policy tests use
(tests/policy/memory_facts.py) and the reserve's real implementation answer every question of
the `PolicyFacts` Protocol alike, over the same movements: booked inflows, internal moves with
a fee, booked outflows, and an approved outflow still reserved (pending) on the books."""

from __future__ import annotations

import dataclasses
import inspect
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from policy.facts import PolicyFacts
from policy.types import PolicyScope
from reserve.compliance.changes import transfer_change
from reserve.compliance.facts import ReservePolicyFacts
from reserve.custody.models import Wallet
from reserve.transfers.models import Transfer
from reserve.transfers.services import transfer_approve, transfer_confirm, transfer_create, transfer_propose
from tests.policy.memory_facts import MemoryFacts
from tests.reserve.conftest import REGTEST_EXTERNAL, TPUB_C, fake_hash, register

pytestmark = pytest.mark.django_db
BTC = 100_000_000
HOUR = timedelta(hours=1)


@dataclasses.dataclass
class World:
    start: datetime
    scopes: list[PolicyScope]
    wallets: list[Wallet]
    pending: Transfer
    fake: MemoryFacts
    real: ReservePolicyFacts


def _move(people: dict[str, Any], *, at: datetime | None, height: int, **fields: Any) -> Transfer:
    """Propose and approve a transfer; with `at`, confirm it in block `height` at that time."""
    transfer = transfer_create(actor=people["operator"], **fields)
    transfer_propose(transfer=transfer, actor=people["operator"])
    transfer_approve(transfer=transfer, actor=people["approver"])
    transfer = transfer_approve(transfer=transfer, actor=people["approver2"])
    if at is None:
        return transfer
    return transfer_confirm(
        transfer=transfer,
        txid=fake_hash(f"tx{height}"),
        vout=0,
        block_height=height,
        block_hash=fake_hash(f"block{height}"),
        occurred_at=at,
    )


@pytest.fixture
def world(
    operator: Any, approver: Any, approver2: Any, agency: Any, cold_wallet: Wallet, vault_wallet: Wallet
) -> World:
    # Blocks a day ahead, so that each booked movement stands at its block time (after its approval).
    start = timezone.now().replace(microsecond=0) + timedelta(days=1)
    people = {"operator": operator, "approver": approver, "approver2": approver2}
    outside = register(operator, agency, "outside-01", TPUB_C, in_perimeter=False)
    booked = [
        _move(people, at=start + HOUR, height=101, direction="inbound", category="forfeiture",
              amount_sats=10 * BTC, destination_wallet=cold_wallet, provenance_reference="Order 1"),
        _move(people, at=start + 2 * HOUR, height=102, direction="inbound", category="purchase",
              amount_sats=2 * BTC, destination_wallet=vault_wallet, provenance_reference="Contract 2"),
        _move(people, at=start + 3 * HOUR, height=103, direction="internal", category="internal_consolidation",
              amount_sats=BTC, fee_sats=500, source_wallet=cold_wallet, destination_wallet=vault_wallet),
        _move(people, at=start + 4 * HOUR, height=104, direction="outbound", category="return_to_victims",
              amount_sats=BTC // 4, fee_sats=700, source_wallet=vault_wallet, external_address=REGTEST_EXTERNAL),
        _move(people, at=start + 5 * HOUR, height=105, direction="internal", category="internal_consolidation",
              amount_sats=BTC // 8, fee_sats=300, source_wallet=vault_wallet, destination_wallet=outside),
    ]  # fmt: skip
    pending = _move(people, at=None, height=0, direction="outbound", category="return_to_victims",
                    amount_sats=BTC // 2, fee_sats=1_000, source_wallet=cold_wallet,
                    external_address=REGTEST_EXTERNAL)  # fmt: skip
    fake = MemoryFacts()
    for transfer in booked:
        transfer = Transfer.objects.get(pk=transfer.pk)
        assert transfer.occurred_at is not None and transfer.approved_at is not None
        fake.book(transfer_change(transfer, at=max(transfer.occurred_at, transfer.approved_at)))
    pending = Transfer.objects.get(pk=pending.pk)
    fake.book(transfer_change(pending, at=pending.approved_at), pending=True)
    scopes = [
        PolicyScope("perimeter"),
        PolicyScope("agency", agency.pk),
        PolicyScope("wallet", cold_wallet.pk),
        PolicyScope("wallet", vault_wallet.pk),
        PolicyScope("wallet", outside.pk),
    ]
    return World(start, scopes, [cold_wallet, vault_wallet, outside], pending, fake, ReservePolicyFacts())


def _questions(world: World) -> list[tuple[str, dict[str, Any]]]:
    """Every Protocol method asked over every scope, at points before, between and after the movements."""
    start = world.start
    times: list[datetime | None] = [
        None,
        start + HOUR / 2,
        start + 2 * HOUR,
        start + 3 * HOUR + HOUR / 2,
        start + 24 * HOUR,
    ]
    windows = [
        (start, start + 2 * HOUR + HOUR / 2),
        (start + 2 * HOUR + HOUR / 2, start + 24 * HOUR),
        (start - 48 * HOUR, start - 12 * HOUR),  # before every block: only the reservation reaches it
        (start - 48 * HOUR, start + 48 * HOUR),
    ]
    asked: list[tuple[str, dict[str, Any]]] = []
    for scope in world.scopes:
        asked += [("holdings_sats", {"scope": scope, "at": at}) for at in times]
        asked += [("holdings_sats", {"scope": scope, "height": height}) for height in (100, 101, 103, 105)]
        for since, until in windows:
            for direction in ("inbound", "outbound", "internal"):
                for categories in (None, ["forfeiture"], ["return_to_victims", "purchase"]):
                    for include_pending in (True, False):
                        asked.append(("flow_sats", {
                            "scope": scope, "direction": direction, "since": since, "until": until,
                            "categories": categories, "include_pending": include_pending,
                        }))  # fmt: skip
                asked.append(("flow_sats", {
                    "scope": scope, "direction": "outbound", "since": since, "until": until,
                    "excluding_subject": ("reserve.transfer", str(world.pending.pk)),
                }))  # fmt: skip
            asked.append(("holdings_changes", {"scope": scope, "since": since, "until": until}))
        for after, since_height in ((None, None), (start + HOUR / 2, None), (None, 101), (start + 2 * HOUR, 101)):
            for categories in (["forfeiture"], ["forfeiture", "purchase"]):
                asked.append(("exempt_inflows_sats", {
                    "scope": scope, "since": after, "since_height": since_height,
                    "until": start + 24 * HOUR, "categories": categories,
                }))  # fmt: skip
        asked.append(("encumbered_sats", {"scope": scope}))
    for wallet in world.wallets:
        asked += [("wallet_balance_sats", {"wallet_id": wallet.pk, "at": at}) for at in times]
    return asked


def test_the_fake_and_the_real_facts_answer_every_question_alike(world: World) -> None:
    # when both are asked the same questions
    asked = _questions(world)
    differ = [
        (method, arguments, getattr(world.fake, method)(**arguments), getattr(world.real, method)(**arguments))
        for method, arguments in asked
        if getattr(world.fake, method)(**arguments) != getattr(world.real, method)(**arguments)
    ]
    # then they never differ, and the questions cover every method of the Protocol
    assert differ == []
    protocol_methods = {
        name for name, _ in inspect.getmembers(PolicyFacts, inspect.isfunction) if not name.startswith("_")
    }
    assert {method for method, _ in asked} == protocol_methods


def test_the_answers_are_not_trivially_zero(world: World) -> None:
    # a contract over answers that are all zero would prove nothing
    perimeter = world.scopes[0]
    assert world.real.holdings_sats(scope=perimeter) == 10 * BTC + 2 * BTC - 500 - (BTC // 4 + 700) - (BTC // 8 + 300)
    assert world.real.encumbered_sats(scope=perimeter) == BTC // 2 + 1_000
    before_the_books: dict[str, Any] = {"since": world.start - 48 * HOUR, "until": world.start - 12 * HOUR}
    assert world.real.flow_sats(scope=perimeter, direction="outbound", **before_the_books) == BTC // 2
    assert world.fake.flow_sats(scope=perimeter, direction="outbound", **before_the_books) == BTC // 2
