"""Each rule type judged on its own against in-memory facts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from policy.evaluation import evaluate_change
from policy.types import PolicyScope, RuleLine
from tests.policy.builders import BTC, COLD, HOT, T0, TREASURY, at, inbound, internal, outbound, version
from tests.policy.memory_facts import MemoryFacts


def first_line(rule: dict, change, facts: MemoryFacts, **version_options) -> RuleLine:
    decision = evaluate_change(change=change, facts=facts, versions=[version([rule], **version_options)])
    return decision.lines[0]


@pytest.fixture
def facts() -> MemoryFacts:
    facts = MemoryFacts()
    facts.book(inbound(100 * BTC, category="forfeiture", when=T0 - (at(days=1) - T0), block_height=100))
    return facts


class TestHoldingsCap:
    rule = {"type": "holdings_cap", "params": {"max_sats": 101 * BTC}}

    def test_an_inflow_up_to_the_cap_passes_and_one_sat_more_is_denied(self, facts):
        fits = first_line(self.rule, inbound(BTC), facts)
        over = first_line(self.rule, inbound(BTC + 1), facts)

        assert (fits.verdict, fits.measured_sats, fits.limit_sats) == ("allow", 101 * BTC, 101 * BTC)
        assert (over.verdict, over.measured_sats) == ("deny", 101 * BTC + 1)
        assert over.reason == "Holdings 101.00000001 BTC against a cap of 101.00000000 BTC: 0.00000001 BTC over."

    def test_an_outflow_passes_even_when_holdings_are_over_the_cap(self, facts):
        line = first_line({"type": "holdings_cap", "params": {"max_sats": 50 * BTC}}, outbound(BTC), facts)

        assert line.verdict == "allow"
        assert line.measured_sats == 99 * BTC - 2_000

    def test_enforcement_reads_the_books_as_they_stand_not_as_of_the_change_time(self, facts):
        # given a posting stamped with a block time ahead of the change being judged
        facts.book(inbound(BTC, when=at(days=1, hours=2)))
        change = inbound(BTC, when=at(days=1))
        versions = [version([self.rule])]

        as_of = evaluate_change(change=change, facts=facts, versions=versions).lines[0]
        current = evaluate_change(change=change, facts=facts, versions=versions, current=True).lines[0]

        assert (as_of.verdict, as_of.measured_sats) == ("allow", 101 * BTC)
        assert (current.verdict, current.measured_sats) == ("deny", 102 * BTC)

    def test_an_observed_state_over_the_cap_is_a_breach(self, facts):
        observed = replace(inbound(0), observed=True, block_height=100)

        line = first_line({"type": "holdings_cap", "params": {"max_sats": 50 * BTC}}, observed, facts)

        assert (line.verdict, line.measured_sats) == ("deny", 100 * BTC)


class TestNoNetAccumulation:
    def test_baseline_from_the_ledger_at_a_date_and_exempt_inflows_after_it(self, facts):
        # given a baseline taken from the books at T0 and a forfeiture booked after it
        rule = {"type": "no_net_accumulation", "params": {"baseline_at": T0.isoformat()}}
        facts.book(inbound(10 * BTC, category="forfeiture", when=at(hours=1)))

        # when a purchase of one sat is proposed, and a consolidation
        purchase = first_line(rule, inbound(1), facts)
        consolidation = first_line(rule, internal(50 * BTC, fee_sats=20_000), facts)

        # then the ceiling is 100 + 10 BTC and holdings are exactly at it
        assert (purchase.verdict, purchase.measured_sats, purchase.limit_sats) == ("deny", 110 * BTC + 1, 110 * BTC)
        assert (consolidation.verdict, consolidation.measured_sats) == ("allow", 110 * BTC - 20_000)

    def test_baseline_at_a_block_height_counts_exempt_inflows_in_later_blocks(self, facts):
        rule = {"type": "no_net_accumulation", "params": {"baseline_height": 100}}
        facts.book(inbound(5 * BTC, category="civil_penalty", when=at(hours=1), block_height=101))

        line = first_line(rule, inbound(1, category="mining_reward"), facts)

        assert (line.verdict, line.limit_sats) == ("deny", 105 * BTC)

    def test_exempt_categories_can_be_narrowed(self, facts):
        rule = {"type": "no_net_accumulation", "params": {"baseline_sats": 100 * BTC, "exempt_categories": []}}

        line = first_line(rule, inbound(BTC, category="forfeiture"), facts)

        assert line.verdict == "deny"

    def test_an_exempt_inflow_passes_even_above_the_ceiling(self, facts):
        rule = {"type": "no_net_accumulation", "params": {"baseline_sats": 50 * BTC}}

        forfeiture = first_line(rule, inbound(BTC, category="forfeiture"), facts)
        donation = first_line(rule, inbound(BTC, category="donation"), facts)

        assert forfeiture.verdict == "allow"
        assert "does not add to it" in forfeiture.reason
        assert donation.verdict == "deny"


class TestTransferLimit:
    rule = {"type": "transfer_limit", "params": {"max_sats": BTC, "direction": "outbound", "categories": ["sale"]}}

    def test_limits_only_matching_direction_and_category(self, facts):
        sale = first_line(self.rule, outbound(BTC + 1, category="sale"), facts)
        exact = first_line(self.rule, outbound(BTC, category="sale"), facts)
        victims = first_line(self.rule, outbound(5 * BTC), facts)
        inflow = first_line(self.rule, inbound(5 * BTC, category="sale"), facts)

        assert (sale.verdict, exact.verdict) == ("deny", "allow")
        assert victims.verdict == inflow.verdict == "allow"
        assert victims.reason.startswith("Does not apply")
        assert victims.measured_sats is None

    def test_direction_is_seen_from_the_policy_scope(self, facts):
        # given an agency-scoped limit on outflows, and a transfer to another agency's wallet
        rule = {"type": "transfer_limit", "params": {"max_sats": BTC, "direction": "outbound"}}
        to_other_agency = replace(
            internal(2 * BTC, fee_sats=0), destination_agency_id=TREASURY + 1, source_wallet_id=COLD
        )

        line = first_line(rule, to_other_agency, facts, scope=PolicyScope("agency", TREASURY))

        # then leaving the agency counts as outbound for it
        assert line.verdict == "deny"


class TestVelocityLimit:
    rule = {
        "type": "velocity_limit",
        "params": {"max_sats": 10 * BTC, "window_seconds": 3_600, "direction": "outbound"},
    }

    @pytest.fixture
    def moved(self, facts) -> MemoryFacts:
        facts.book(outbound(4 * BTC, when=at(hours=10)))
        facts.book(outbound(3 * BTC, when=at(hours=10, minutes=30)), pending=True)
        return facts

    def test_transfers_in_the_window_and_pending_reservations_count(self, moved):
        line = first_line(self.rule, outbound(3 * BTC + 1, when=at(hours=10, minutes=59)), moved)

        assert (line.verdict, line.measured_sats) == ("deny", 10 * BTC + 1)

    def test_a_transfer_exactly_one_window_ago_still_counts(self, moved):
        line = first_line(self.rule, outbound(3 * BTC + 1, when=at(hours=11)), moved)

        assert line.verdict == "deny"

    def test_a_transfer_just_over_one_window_ago_has_left_it(self, moved):
        line = first_line(self.rule, outbound(6 * BTC, when=at(hours=11, microseconds=1)), moved)

        assert (line.verdict, line.measured_sats) == ("allow", 9 * BTC)

    def test_the_pending_transfer_being_posted_is_not_counted_twice(self, facts):
        pending = replace(outbound(6 * BTC, when=at(hours=10)), subject_type="transfer", subject_id="42")
        facts.book(pending, pending=True)

        line = first_line(self.rule, replace(pending, at=at(hours=10, minutes=5)), facts)

        assert (line.verdict, line.measured_sats) == ("allow", 6 * BTC)


class TestDestinationAllowlist:
    def rule(self, on_violation: str) -> dict:
        return {
            "type": "destination_allowlist",
            "params": {
                "addresses": [{"address": "bc1qvictimsfund", "added_at": at(days=10).isoformat()}],
                "counterparties": [7],
                "cool_off_seconds": 86_400,
                "on_violation": on_violation,
            },
        }

    def test_cool_off_boundary(self, facts):
        before = first_line(self.rule("deny"), outbound(BTC, when=at(days=11, microseconds=-1)), facts)
        exactly = first_line(self.rule("deny"), outbound(BTC, when=at(days=11)), facts)

        assert before.verdict == "deny"
        assert "cool-off ends at 2026-01-12T00:00:00+00:00" in before.reason
        assert exactly.verdict == "allow"

    def test_cool_off_can_ask_for_extra_approvals_instead(self, facts):
        line = first_line(self.rule("needs_approval"), outbound(BTC, when=at(days=10, hours=1)), facts)

        assert (line.verdict, line.extra_approvals) == ("needs_approval", 1)

    def test_unlisted_destinations_are_denied_and_listed_counterparties_pass(self, facts):
        unknown = first_line(self.rule("needs_approval"), outbound(BTC, external_address="bc1qthief"), facts)
        counterparty = first_line(self.rule("deny"), outbound(BTC, external_address="", counterparty_id=7), facts)

        assert unknown.verdict == "deny"
        assert counterparty.verdict == "allow"

    def test_movements_inside_the_perimeter_are_not_judged(self, facts):
        line = first_line(self.rule("deny"), internal(BTC, fee_sats=1), facts)

        assert line.reason.startswith("Does not apply")


class TestNoDisposal:
    rule = {"type": "no_disposal", "params": {"allowed_reasons": ["return_to_victims"], "reference_required": True}}

    def test_a_sale_is_denied_and_a_listed_reason_needs_its_reference(self, facts):
        sale = first_line(self.rule, outbound(BTC, category="sale", provenance_reference="contract 9"), facts)
        bare = first_line(self.rule, outbound(BTC), facts)
        cited = first_line(self.rule, outbound(BTC, provenance_reference="1:23-cv-0042"), facts)

        assert sale.verdict == bare.verdict == "deny"
        assert "leaves it only for return to victims" in sale.reason
        assert "court order" in bare.reason
        assert cited.verdict == "allow"

    def test_moving_between_reserve_wallets_is_no_disposal(self, facts):
        line = first_line(self.rule, internal(BTC, fee_sats=1, source_wallet_id=COLD, destination_wallet_id=HOT), facts)

        assert line.verdict == "allow"


class TestAllowedSources:
    rule = {
        "type": "allowed_sources",
        "params": {"categories": ["forfeiture", "mining_reward"], "reference_required": ["forfeiture"]},
    }

    def test_inflows_need_an_allowed_category_and_the_reference_it_demands(self, facts):
        donation = first_line(self.rule, inbound(BTC, category="donation"), facts)
        unreferenced = first_line(self.rule, inbound(BTC, category="forfeiture"), facts)
        order = first_line(self.rule, inbound(BTC, category="forfeiture", provenance_reference="FO-2026-17"), facts)
        mining = first_line(self.rule, inbound(BTC, category="mining_reward"), facts)

        assert (donation.verdict, unreferenced.verdict) == ("deny", "deny")
        assert (order.verdict, mining.verdict) == ("allow", "allow")


class TestEncumbranceCap:
    rule = {"type": "encumbrance_cap", "params": {"max_sats": 30 * BTC}}

    def test_up_to_the_cap_everything_moves(self, facts):
        facts.book(outbound(30 * BTC - 2_000, when=at(hours=1)), pending=True)  # holds amount + fee

        line = first_line(self.rule, outbound(BTC), facts)

        assert (line.verdict, line.measured_sats, line.limit_sats) == ("allow", 30 * BTC, 30 * BTC)

    def test_over_the_cap_blocks_outflows_but_not_inflows(self, facts):
        facts.book(outbound(30 * BTC - 1_999, when=at(hours=1)), pending=True)

        assert first_line(self.rule, outbound(BTC), facts).verdict == "deny"
        assert first_line(self.rule, inbound(BTC), facts).verdict == "allow"

    def test_observed_an_encumbrance_beyond_the_holdings_is_a_breach(self, facts):
        facts.book(outbound(20 * BTC - 2_000, when=at(hours=1)), pending=True)
        facts.book(outbound(85 * BTC - 2_000, when=at(hours=1)))
        observed = replace(inbound(0, when=at(hours=2)), observed=True)

        line = first_line(self.rule, observed, facts)

        assert (line.verdict, line.measured_sats, line.limit_sats) == ("deny", 20 * BTC, 15 * BTC)


class TestZeroBalanceAfter:
    rule = {"type": "zero_balance_after", "params": {"wallets": [COLD], "at": at(days=30).isoformat()}}

    def test_nothing_may_be_paid_in_after_the_date_but_draining_is_fine(self, facts):
        before = first_line(self.rule, inbound(BTC, when=at(days=29)), facts)
        after = first_line(self.rule, inbound(BTC, when=at(days=30)), facts)
        drain = first_line(self.rule, outbound(100 * BTC - 2_000, when=at(days=31)), facts)

        assert before.verdict == "allow"
        assert after.verdict == "deny"
        assert (drain.verdict, drain.measured_sats) == ("allow", 0)

    def test_an_observed_balance_after_the_date_is_a_breach(self, facts):
        observed = replace(inbound(0, when=at(days=31)), observed=True)

        line = first_line(self.rule, observed, facts)

        assert (line.verdict, line.measured_sats, line.limit_sats) == ("deny", 100 * BTC, 0)
