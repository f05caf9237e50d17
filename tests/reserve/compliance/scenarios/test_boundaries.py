"""Time boundaries at the transfer gates, with the clock set to the second: a velocity window,
an allowlist cool-off, and a policy version taking over at its effective time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from config.errors import PermissionDenied
from policy.errors import PolicyDenied
from policy.models import Policy, PolicyEvaluation
from policy.services import policy_approve, policy_propose_retirement
from policy.types import PolicyScope
from reserve.compliance.facts import ReservePolicyFacts
from reserve.custody.models import Wallet
from reserve.transfers.models import Transfer
from reserve.transfers.services import transfer_approve, transfer_propose
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
from tests.reserve.conftest import REGTEST_EXTERNAL

DAY = 86_400
PERIMETER = PolicyScope("perimeter")
SECOND_DESTINATION = "bcrt1qekpm3n3ut28xspz9jn37t8qysqg5jx475p2208"


def outflow(people: People, wallet: Wallet, sats: int) -> Transfer:
    return propose(
        people,
        direction="outbound",
        category="return_to_victims",
        amount_sats=sats,
        fee_sats=1_000,
        source_wallet=wallet,
        external_address=REGTEST_EXTERNAL,
        provenance_reference="Court order 7",
    )


def preview(transfer: Transfer, rule_type: str) -> dict:
    """The line of `rule_type` in the transfer's last stored evaluation."""
    (line,) = [line for line in last_evaluation(transfer).lines if line["rule_type"] == rule_type]
    return line


@pytest.fixture
def funded(people: People, cold: Wallet, clock: Clock) -> Wallet:
    import_holdings(people, [(clock.now - timedelta(days=10), cold, 10 * BTC, 600_000)])
    return cold


def velocity_policy(people: People, clock: Clock) -> None:
    activate_policy(
        people,
        name="Outflow velocity",
        scope=PERIMETER,
        rules=[{"type": "velocity_limit", "params": {"max_sats": BTC, "window_seconds": DAY, "direction": "outbound"}}],
        effective_from=clock.now - timedelta(days=9),
    )


@pytest.mark.parametrize(
    ("seconds_before", "earlier_counts"),
    [(DAY, True), (DAY + 1, False)],
    ids=["exactly-one-window-before", "one-second-more"],
)
@pytest.mark.django_db
def test_velocity_window_boundary(
    people: People, funded: Wallet, clock: Clock, seconds_before: int, earlier_counts: bool
) -> None:
    # given: 0.6 BTC left the perimeter in a block stamped `seconds_before` before now
    judged_at = clock.now
    velocity_policy(people, clock)
    clock.set(judged_at - timedelta(days=2))
    earlier = approve(people, outflow(people, funded, 60_000_000))
    confirm(earlier, label="earlier", height=600_100, at=judged_at - timedelta(seconds=seconds_before))
    clock.set(judged_at)
    # when: another 0.6 BTC is proposed now
    later = outflow(people, funded, 60_000_000)
    # then: the earlier one counts against 1 BTC a day only inside the window [now - 1 day, now)
    line = preview(later, "velocity_limit")
    expected = 120_000_000 if earlier_counts else 60_000_000
    assert (line["verdict"], line["measured_sats"], line["limit_sats"]) == (
        "deny" if earlier_counts else "allow",
        expected,
        BTC,
    )
    # ...and a denied proposal is refused, not queued
    if earlier_counts:
        assert later.status == "draft"
    else:
        assert approve(people, later).status == "approved"


@pytest.mark.django_db
def test_velocity_counts_approved_outflows_not_yet_posted(people: People, funded: Wallet, clock: Clock) -> None:
    # given: 0.6 BTC approved (reserved) but not yet on chain
    velocity_policy(people, clock)
    reserved = approve(people, outflow(people, funded, 60_000_000))
    assert reserved.status == "approved"
    # when: 0.5 BTC more is proposed a minute later
    clock.set(clock.now + timedelta(minutes=1))
    more = outflow(people, funded, 50_000_000)
    # then: the reservation counts
    line = preview(more, "velocity_limit")
    assert (line["verdict"], line["measured_sats"]) == ("deny", 110_000_000)


@pytest.mark.django_db
def test_velocity_counts_a_posting_stamped_ahead_of_the_clock(people: People, funded: Wallet, clock: Clock) -> None:
    # given: 0.6 BTC confirmed in a block whose time runs 10 minutes ahead of our clock
    # (consensus lets block times run up to two hours ahead)
    velocity_policy(people, clock)
    earlier = approve(people, outflow(people, funded, 60_000_000))
    confirm(earlier, label="ahead", height=600_100, at=clock.now + timedelta(minutes=10))
    # when: 0.6 BTC more is proposed a minute later
    clock.set(clock.now + timedelta(minutes=1))
    later = outflow(people, funded, 60_000_000)
    # then: the posted outflow counts although its block time is still ahead of the clock, and
    # the proposal is refused
    line = preview(later, "velocity_limit")
    assert (line["verdict"], line["measured_sats"]) == ("deny", 120_000_000)
    assert later.status == "draft"


@pytest.mark.django_db
def test_velocity_counts_an_outflow_approved_in_the_window_whose_block_time_is_older(
    people: People, funded: Wallet, clock: Clock
) -> None:
    # given: 0.6 BTC approved 50 minutes ago, mined in a block stamped 70 minutes ago (block
    # times may lag the clock), against 1 BTC per hour
    judged_at = clock.now
    activate_policy(
        people,
        name="Outflow velocity",
        scope=PERIMETER,
        rules=[
            {"type": "velocity_limit", "params": {"max_sats": BTC, "window_seconds": 3_600, "direction": "outbound"}}
        ],
        effective_from=judged_at - timedelta(days=9),
    )
    clock.set(judged_at - timedelta(minutes=50))
    earlier = approve(people, outflow(people, funded, 60_000_000))
    clock.set(judged_at - timedelta(minutes=45))
    confirm(earlier, label="late-stamp", height=600_100, at=judged_at - timedelta(minutes=70))
    # when: 0.6 BTC more is proposed now
    clock.set(judged_at)
    later = outflow(people, funded, 60_000_000)
    # then: the earlier outflow still weighs on the hour it was approved in, as it did while reserved
    line = preview(later, "velocity_limit")
    assert (line["verdict"], line["measured_sats"]) == ("deny", 120_000_000)


@pytest.mark.django_db
def test_velocity_counts_a_reservation_approved_before_the_window(people: People, funded: Wallet, clock: Clock) -> None:
    # given: 0.6 BTC approved two days ago and still reserved (not yet broadcast)
    judged_at = clock.now
    velocity_policy(people, clock)
    clock.set(judged_at - timedelta(days=2))
    reserved = approve(people, outflow(people, funded, 60_000_000))
    assert reserved.status == "approved"
    # when: 0.6 BTC more is proposed now
    clock.set(judged_at)
    later = outflow(people, funded, 60_000_000)
    # then: the reservation has yet to move; both would leave within one day, so it counts
    line = preview(later, "velocity_limit")
    assert (line["verdict"], line["measured_sats"]) == ("deny", 120_000_000)


@pytest.mark.parametrize(
    ("on_violation", "approvals_within_cool_off"),
    [("deny", 0), ("needs_approval", 3)],
)
@pytest.mark.django_db
def test_allowlist_cool_off_boundary(
    people: People, funded: Wallet, clock: Clock, on_violation: str, approvals_within_cool_off: int
) -> None:
    # given: the destination was listed at `listed_at`, with a cool-off of one day
    listed_at = clock.now - timedelta(days=3)
    activate_policy(
        people,
        name="Destinations",
        scope=PERIMETER,
        rules=[
            {
                "type": "destination_allowlist",
                "params": {
                    "addresses": [{"address": REGTEST_EXTERNAL, "added_at": listed_at.isoformat()}],
                    "cool_off_seconds": DAY,
                    "on_violation": on_violation,
                },
            }
        ],
        effective_from=listed_at - timedelta(days=1),
    )
    # when: an outflow to it is proposed one second before the cool-off ends
    clock.set(listed_at + timedelta(seconds=DAY - 1))
    early = outflow(people, funded, BTC)
    # then: still cooling off
    line = preview(early, "destination_allowlist")
    assert line["verdict"] == on_violation
    assert f"its cool-off ends at {(listed_at + timedelta(seconds=DAY)).isoformat()}" in line["reason"]
    if approvals_within_cool_off:
        early = transfer_approve(transfer=early, actor=people.approvers[0])
        assert early.status == "pending_approval"
        # extra approvals buy the exception: 2 + 1 needed
        assert early.required_approvals == approvals_within_cool_off
        early = approve_rest(people, early, upto=approvals_within_cool_off)
        assert early.status == "approved"
        return
    # a denied proposal is refused: it stays a draft
    assert early.status == "draft"
    # when: proposed again exactly cool_off_seconds after the listing, and approved
    clock.set(listed_at + timedelta(seconds=DAY))
    early = approve(people, transfer_propose(transfer=early, actor=people.operator))
    # then: the gates find the destination usable and the default quorum is met
    assert early.status == "approved"
    assert preview(early, "destination_allowlist")["verdict"] == "allow"
    on_time = outflow(people, funded, BTC)
    assert preview(on_time, "destination_allowlist")["verdict"] == "allow"


def approve_rest(people: People, transfer: Transfer, *, upto: int) -> Transfer:
    for approver in people.approvers[1:upto]:
        transfer = transfer_approve(transfer=transfer, actor=approver)
    return transfer


@pytest.mark.django_db
def test_policy_version_switch_at_its_effective_time(people: People, funded: Wallet, clock: Clock) -> None:
    # given: version 1 limits each outflow to 1 BTC; version 2 (approved now) raises it to 2 BTC
    # from an hour from now
    switch_at = clock.now + timedelta(hours=1)
    first = activate_policy(
        people,
        name="Outflow limit",
        scope=PERIMETER,
        rules=[{"type": "transfer_limit", "params": {"max_sats": BTC, "direction": "outbound"}}],
        effective_from=clock.now - timedelta(days=5),
    )
    second = activate_policy(
        people,
        name="Outflow limit",
        scope=PERIMETER,
        rules=[{"type": "transfer_limit", "params": {"max_sats": 2 * BTC, "direction": "outbound"}}],
        effective_from=switch_at,
    )
    assert (first.version, second.version) == (1, 2)
    # when: 1.5 BTC is proposed one second before the switch
    clock.set(switch_at - timedelta(seconds=1))
    before = outflow(people, funded, 150_000_000)
    # then: version 1 judges it, and denies it
    line = preview(before, "transfer_limit")
    assert (line["verdict"], line["policy_version"], line["limit_sats"]) == ("deny", 1, BTC)
    stored = PolicyEvaluation.objects.get(subject_id=str(before.pk), gate="proposal")
    assert [entry["version"] for entry in stored.versions] == [1]
    # when: the same amount is proposed at the switch, and the first one is approved then
    assert before.status == "draft"  # refused, not queued
    clock.set(switch_at)
    after = outflow(people, funded, 150_000_000)
    before = approve(people, transfer_propose(transfer=before, actor=people.operator))
    # then: version 2 judges both and allows them
    line = preview(after, "transfer_limit")
    assert (line["verdict"], line["policy_version"], line["limit_sats"]) == ("allow", 2, 2 * BTC)
    assert before.status == "approved"
    assert preview(before, "transfer_limit")["policy_version"] == 2


@pytest.mark.django_db
def test_a_retirement_takes_effect_at_its_time(people: People, funded: Wallet, clock: Clock) -> None:
    # given: the per-transfer limit of 1 BTC, and its retirement (proposed and approved now) from
    # an hour from now
    retire_at = clock.now + timedelta(hours=1)
    version = activate_policy(
        people,
        name="Outflow limit",
        scope=PERIMETER,
        rules=[{"type": "transfer_limit", "params": {"max_sats": BTC, "direction": "outbound"}}],
        effective_from=clock.now - timedelta(days=5),
    )
    author, first, second = people.policy_admins
    retirement = policy_propose_retirement(policy=version.policy, effective_from=retire_at, author=first)
    policy_approve(version=retirement, approver=author)
    with pytest.raises(PermissionDenied):
        policy_approve(version=retirement, approver=first)
    policy_approve(version=retirement, approver=second)
    # when: 1.5 BTC is proposed one second before the retirement, and again at it
    clock.set(retire_at - timedelta(seconds=1))
    before = outflow(people, funded, 150_000_000)
    clock.set(retire_at)
    after = outflow(people, funded, 150_000_000)
    # then: the limit judges the first and nothing judges the second (only the default quorum)
    assert preview(before, "transfer_limit")["verdict"] == "deny"
    assert preview_outcome(after) == "needs_approval"
    assert after.policy_preview is not None
    assert [line["rule_type"] for line in after.policy_preview["lines"]] == ["approval_quorum"]
    assert PolicyEvaluation.objects.get(subject_id=str(after.pk), gate="proposal").versions == []
    assert Policy.objects.get(pk=version.policy_id).status == "retired"


@pytest.mark.django_db
def test_a_stricter_version_takes_over_at_the_posting_gate_at_its_time(
    people: People, funded: Wallet, clock: Clock
) -> None:
    # given: 10 BTC held; version 1 caps holdings at 20 BTC, version 2 at 10 BTC from the switch;
    # two purchases of 1 BTC approved under version 1
    switch_at = clock.now + timedelta(hours=1)
    rules = [{"type": "holdings_cap", "params": {"max_sats": 20 * BTC}}]
    activate_policy(people, name="Cap", scope=PERIMETER, rules=rules, effective_from=clock.now - timedelta(days=5))
    rules = [{"type": "holdings_cap", "params": {"max_sats": 10 * BTC}}]
    activate_policy(people, name="Cap", scope=PERIMETER, rules=rules, effective_from=switch_at)
    purchases = [
        approve(
            people,
            propose(people, direction="inbound", category="purchase", amount_sats=BTC, destination_wallet=funded),
        )
        for _ in range(2)
    ]
    assert [purchase.status for purchase in purchases] == ["approved", "approved"]
    # when: the first is confirmed one second before the switch, the second at it
    clock.set(switch_at - timedelta(seconds=1))
    first = confirm(purchases[0], label="before-switch", height=600_200, at=switch_at - timedelta(minutes=5))
    clock.set(switch_at)
    with pytest.raises(PolicyDenied):
        confirm(purchases[1], label="at-switch", height=600_201, at=switch_at - timedelta(minutes=1))
    # then: version 1 let the first post; version 2 refused the second
    assert first.status == "confirmed"
    allowed = PolicyEvaluation.objects.get(subject_id=str(first.pk), gate="posting")
    refused = PolicyEvaluation.objects.get(subject_id=str(purchases[1].pk), gate="posting")
    assert ([entry["version"] for entry in allowed.versions], allowed.outcome) == ([1], "allow")
    assert ([entry["version"] for entry in refused.versions], refused.outcome) == ([2], "deny")
    assert (refused.lines[0]["measured_sats"], refused.lines[0]["limit_sats"]) == (12 * BTC, 10 * BTC)
    assert ReservePolicyFacts().holdings_sats(scope=PERIMETER) == 11 * BTC


@pytest.mark.django_db
def test_an_allowlist_entry_carried_into_a_new_version_keeps_its_listing_time(
    people: People, funded: Wallet, clock: Clock
) -> None:
    # given: version 1 (ten days ago) lists the court's address; version 2 (from an hour ago)
    # lists it again and adds a second one, both as plain addresses, with a cool-off of a day
    def allowlist(*addresses: str) -> list[dict]:
        params = {"addresses": list(addresses), "cool_off_seconds": DAY}
        return [{"type": "destination_allowlist", "params": params}]

    activate_policy(
        people,
        name="Destinations",
        scope=PERIMETER,
        rules=allowlist(REGTEST_EXTERNAL),
        effective_from=clock.now - timedelta(days=10),
    )
    activate_policy(
        people,
        name="Destinations",
        scope=PERIMETER,
        rules=allowlist(REGTEST_EXTERNAL, SECOND_DESTINATION),
        effective_from=clock.now - timedelta(hours=1),
    )
    # when: outflows to each are proposed now
    known = outflow(people, funded, BTC)
    new = propose(
        people,
        direction="outbound",
        category="return_to_victims",
        amount_sats=BTC,
        source_wallet=funded,
        external_address=SECOND_DESTINATION,
    )
    # then: the carried entry is past its cool-off; the new one cools off until a day after version 2
    assert preview(known, "destination_allowlist")["verdict"] == "allow"
    line = preview(new, "destination_allowlist")
    assert line["verdict"] == "deny"
    assert (clock.now + timedelta(hours=23)).isoformat() in line["reason"]
