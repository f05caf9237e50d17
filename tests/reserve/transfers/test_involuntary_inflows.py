"""Involuntary inflows: an operator marks an inflow nobody proposed as dust (or a donation, a
fork), audited with the reason; a rule that exempts the category then counts it as exempt."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from config.errors import Conflict, PermissionDenied, ValidationFailed
from policy.rules.base import END_OF_BOOKS
from policy.types import PolicyScope
from reserve.audit.models import AuditEvent
from reserve.compliance.facts import ReservePolicyFacts
from reserve.reports.holdings import holdings_report
from reserve.transfers.models import Transfer
from reserve.transfers.services import transfer_create, transfer_mark_involuntary, transfer_record_observed

pytestmark = pytest.mark.django_db
SEEN = datetime(2026, 2, 1, tzinfo=UTC)


def _seen(wallet: Any, amount_sats: int = 546, vout: int = 0) -> Transfer:
    transfer, _ = transfer_record_observed(
        direction="inbound",
        amount_sats=amount_sats,
        txid="cd" * 32,
        vout=vout,
        block_height=200,
        block_hash="ef" * 32,
        occurred_at=SEEN,
        destination_wallet=wallet,
    )
    return transfer


def _exempt(categories: list[str]) -> int:
    return ReservePolicyFacts().exempt_inflows_sats(
        scope=PolicyScope("perimeter"), since=None, since_height=None, until=SEEN, categories=categories
    )


def test_an_operator_marks_dust_and_an_exempting_rule_counts_it(operator, auditor, cold_wallet) -> None:
    transfer = _seen(cold_wallet)
    assert transfer.category == "other"
    assert _exempt(["dust"]) == 0
    with pytest.raises(PermissionDenied):
        transfer_mark_involuntary(transfer=transfer, category="dust", reason="546 sats", actor=auditor)
    with pytest.raises(ValidationFailed) as refused:
        transfer_mark_involuntary(transfer=transfer, category="purchase", reason="546 sats", actor=operator)
    assert "category" in refused.value.fields
    with pytest.raises(ValidationFailed) as refused:
        transfer_mark_involuntary(transfer=transfer, category="dust", reason=" ", actor=operator)
    assert "reason" in refused.value.fields
    marked = transfer_mark_involuntary(
        transfer=transfer, category="dust", reason="546 sats to the published address", actor=operator
    )
    assert (marked.category, _exempt(["dust"])) == ("dust", 546)
    event = AuditEvent.objects.get(action="transfer.mark_involuntary", object_id=str(transfer.pk))
    before, after = event.before or {}, event.after or {}
    assert (before["category"], after["category"], after["reason"]) == (
        "other",
        "dust",
        "546 sats to the published address",
    )


def test_a_proposed_inflow_keeps_the_category_it_was_approved_with(operator, cold_wallet) -> None:
    proposed = transfer_create(
        actor=operator, direction="inbound", category="purchase", amount_sats=1_000, destination_wallet=cold_wallet
    )
    with pytest.raises(Conflict):
        transfer_mark_involuntary(transfer=proposed, category="donation", reason="gift", actor=operator)
    assert Transfer.objects.get(pk=proposed.pk).category == "purchase"


def test_holdings_are_reported_with_and_without_involuntary_inflows(operator, cold_wallet) -> None:
    dust = _seen(cold_wallet)
    _seen(cold_wallet, amount_sats=1_000, vout=1)
    transfer_mark_involuntary(transfer=dust, category="dust", reason="unsolicited", actor=operator)
    totals = [holdings_report(involuntary=choice).total_sats for choice in (None, False, True)]
    assert totals == [1_546, 1_000, 546]
    by_category = holdings_report(group_by="category", involuntary=False)
    assert [(row.key, row.balance_sats) for row in by_category.rows] == [("other", 1_000)]


def test_a_marked_inflow_counts_in_category_limits_by_its_new_tag(operator, cold_wallet) -> None:
    # a limit on inflows of a category reads the tag the operator corrected, not the lot made before
    dust = _seen(cold_wallet)
    transfer_mark_involuntary(transfer=dust, category="dust", reason="unsolicited", actor=operator)

    def inflows(categories: list[str]) -> int:
        return ReservePolicyFacts().flow_sats(
            scope=PolicyScope("perimeter"), direction="inbound", since=SEEN, until=END_OF_BOOKS, categories=categories
        )

    assert (inflows(["dust"]), inflows(["other"])) == (546, 0)
