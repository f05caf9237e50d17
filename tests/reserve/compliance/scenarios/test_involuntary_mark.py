"""El Salvador's exemption of involuntary inflows, on real PostgreSQL, against the insider who buys
coins off-book and lets them arrive unproposed: one operator's proposal to call them a donation
changes nothing the ceiling sees; only another person's approval makes them exempt."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from policy.types import PolicyScope, RuleLine
from reserve.custody.models import Wallet
from reserve.transfers.drafts import transfer_build
from reserve.transfers.involuntary import involuntary_mark_approve, involuntary_mark_propose
from reserve.transfers.preview import transfer_policy_preview
from reserve.transfers.services import transfer_record_observed
from tests.reserve.compliance.scenarios.conftest import BTC, People, activate_policy, import_holdings
from tests.reserve.conftest import fake_hash

PERIMETER = PolicyScope("perimeter")
ROOM_SATS = 1_000
RULES = [
    {
        "type": "no_net_accumulation",
        "params": {
            "baseline_sats": 100 * BTC + ROOM_SATS,
            "exempt_categories": ["forfeiture", "donation", "dust", "fork_airdrop"],
        },
    },
]


def _ceiling_on_a_purchase(people: People, cold: Wallet) -> RuleLine:
    """The ceiling's line on a purchase of exactly the room the baseline leaves."""
    draft = transfer_build(
        proposer=people.operator,
        direction="inbound",
        category="purchase",
        amount_sats=ROOM_SATS,
        destination_wallet=cold,
        provenance_reference="Purchase contract 1",
    )
    (line,) = [
        line for line in transfer_policy_preview(transfer=draft).lines if line.rule_type == "no_net_accumulation"
    ]
    return line


@pytest.mark.django_db
def test_an_unproposed_inflow_is_exempt_only_once_a_second_person_approves_its_mark(
    people: People, cold: Wallet
) -> None:
    # given: 100 BTC held, a ceiling at 100 BTC + 1,000 sats exempting donations, and 1 BTC seen
    # on chain that nobody proposed (bought off-book)
    now = timezone.now()
    import_holdings(people, [(now - timedelta(days=30), cold, 100 * BTC, 800_000)])
    activate_policy(people, name="IMF programme", scope=PERIMETER, rules=RULES, effective_from=now - timedelta(days=20))
    seen, _ = transfer_record_observed(
        direction="inbound",
        amount_sats=BTC,
        txid=fake_hash("tx:off-book"),
        vout=0,
        block_height=870_000,
        block_hash=fake_hash("block:870000"),
        occurred_at=now - timedelta(days=1),
        destination_wallet=cold,
    )
    assert _ceiling_on_a_purchase(people, cold).verdict == "deny"

    # when: the operator alone proposes it as a donation
    mark = involuntary_mark_propose(transfer=seen, category="donation", reason="gift", actor=people.operator)

    # then: the ceiling still counts it
    line = _ceiling_on_a_purchase(people, cold)
    assert (line.verdict, line.measured_sats, line.limit_sats) == ("deny", 101 * BTC + ROOM_SATS, 100 * BTC + ROOM_SATS)

    # when: an approver approves the mark
    involuntary_mark_approve(mark=mark, actor=people.approvers[0])

    # then: exempt (the ceiling rises by it); the purchase fits the room exactly
    line = _ceiling_on_a_purchase(people, cold)
    assert (line.verdict, line.measured_sats, line.limit_sats) == (
        "allow",
        101 * BTC + ROOM_SATS,
        101 * BTC + ROOM_SATS,
    )
