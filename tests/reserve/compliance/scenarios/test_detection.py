"""Detective mode after a reorg: a posting the chain dropped (and the ledger reversed) no longer
counts in the holdings judged at later blocks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from policy.models import PolicyEvaluation
from policy.types import PolicyScope
from reserve.compliance.facts import ReservePolicyFacts
from reserve.custody.models import Wallet
from reserve.transfers.services import transfer_mark_reorged, transfer_record_observed
from tests.reserve.compliance.scenarios.conftest import BTC, People, activate_policy, approve, confirm, propose
from tests.reserve.conftest import fake_hash

PERIMETER = PolicyScope("perimeter")


@pytest.mark.django_db
def test_a_reorged_inflow_does_not_count_at_later_blocks(people: People, cold: Wallet) -> None:
    # given: a cap of 10 BTC, and an inflow of 6 BTC confirmed at block 100 that a reorg dropped
    now = timezone.now()
    activate_policy(
        people,
        name="Perimeter cap",
        scope=PERIMETER,
        rules=[{"type": "holdings_cap", "params": {"max_sats": 10 * BTC}}],
        effective_from=now - timedelta(days=5),
    )
    inflow = approve(
        people, propose(people, direction="inbound", category="purchase", amount_sats=6 * BTC, destination_wallet=cold)
    )
    inflow = confirm(inflow, label="dropped", height=100, at=now - timedelta(hours=3))
    inflow = transfer_mark_reorged(transfer=inflow)
    assert inflow.status == "reorged"
    facts = ReservePolicyFacts()
    assert facts.holdings_sats(scope=PERIMETER) == 0
    # then: on the best chain the perimeter held nothing at block 100, and the re-check said so
    assert facts.holdings_sats(scope=PERIMETER, height=100) == 0
    recheck = PolicyEvaluation.objects.get(gate="observed", subject_id=str(inflow.pk))
    assert recheck.lines[0]["measured_sats"] == 0
    # when: 5 BTC nobody proposed arrive at block 101
    _, breaches = transfer_record_observed(
        direction="inbound",
        amount_sats=5 * BTC,
        txid=fake_hash("tx:gift"),
        vout=0,
        block_height=101,
        block_hash=fake_hash("block:101"),
        occurred_at=now - timedelta(hours=2),
        destination_wallet=cold,
        category="donation",
    )
    # then: 5 BTC held at that block, under the cap: no breach
    assert breaches == []
    assert facts.holdings_sats(scope=PERIMETER, height=101) == 5 * BTC
