"""What the service's database role cannot do to involuntary marks by hand (raw SQL as
reserve_app, past every Python check): class a transfer without an approved mark, insert a mark
already approved (least of all by its proposer), approve one as its proposer or as someone without
reserve.approve_transfer, edit or delete a decided mark, approve one whose term is no longer
involuntary (reserve/sql/0120_involuntary_mark_approval.sql)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from config.errors import ValidationFailed
from reserve.transfers.involuntary import involuntary_mark_approve, involuntary_mark_propose
from reserve.transfers.models import InvoluntaryMark, Transfer
from tests.owner import behind_the_triggers, requires_role_split
from tests.reserve.conftest import observed_inflow

pytestmark = [pytest.mark.django_db, requires_role_split]


@pytest.fixture
def seen(cold_wallet: Any) -> Transfer:
    return observed_inflow(cold_wallet, amount_sats=5_000_000)


def _refused(sql: str, params: list[Any], match: str) -> None:
    with pytest.raises(DatabaseError, match=match), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def _category(transfer: Transfer) -> str:
    return Transfer.objects.get(pk=transfer.pk).category


RELABEL = "UPDATE reserve_transfer SET category = 'donation' WHERE id = %s"
INSERT = (
    "INSERT INTO reserve_involuntarymark (transfer_id, category, reason, status, proposed_by_id, proposed_at,"
    " decided_by_id, decided_at, comment) VALUES (%s, 'donation', 'gift', %s, %s, now(), %s, %s, '')"
)


def test_no_category_change_without_an_approved_mark(operator: Any, seen: Transfer) -> None:
    _refused(RELABEL, [seen.pk], "is permanent")
    # an open proposal is no approval
    involuntary_mark_propose(transfer=seen, category="donation", reason="gift", actor=operator)
    _refused(RELABEL, [seen.pk], "is permanent")
    assert _category(seen) == "other"


def test_an_approved_mark_allows_its_own_term_only(operator: Any, approver: Any, seen: Transfer) -> None:
    mark = involuntary_mark_propose(transfer=seen, category="dust", reason="546 sats", actor=operator)
    involuntary_mark_approve(mark=mark, actor=approver)
    _refused(RELABEL, [seen.pk], "is permanent")
    _refused("UPDATE reserve_transfer SET category = 'other' WHERE id = %s", [seen.pk], "is permanent")
    assert _category(seen) == "dust"


@pytest.mark.parametrize(
    ("decided_by", "match"),
    [("proposer", "starts as a proposal|decided_by_another"), ("approver", "starts as a proposal")],
)
def test_a_mark_cannot_be_inserted_already_approved(
    operator: Any, approver: Any, seen: Transfer, decided_by: str, match: str
) -> None:
    decider = operator if decided_by == "proposer" else approver
    _refused(INSERT, [seen.pk, "approved", operator.pk, decider.pk, datetime.now(UTC)], match)
    assert not InvoluntaryMark.objects.exists()
    _refused(RELABEL, [seen.pk], "is permanent")


def test_a_mark_is_proposed_only_by_an_operator_and_only_for_an_unproposed_inflow(
    operator: Any, auditor: Any, cold_wallet: Any, seen: Transfer
) -> None:
    _refused(INSERT, [seen.pk, "proposed", auditor.pk, None, None], "does not hold reserve.execute_transfer")
    purchase = Transfer.objects.create(
        direction="inbound", category="purchase", amount_sats=1_000, destination_wallet=cold_wallet, proposer=operator
    )
    _refused(INSERT, [purchase.pk, "proposed", operator.pk, None, None], "only an inflow nobody proposed")
    assert not InvoluntaryMark.objects.exists()


def test_an_open_mark_is_approved_only_by_another_approver(
    operator: Any, auditor: Any, approver: Any, seen: Transfer
) -> None:
    mark = involuntary_mark_propose(transfer=seen, category="donation", reason="gift", actor=operator)
    approve = (
        "UPDATE reserve_involuntarymark SET status = 'approved', decided_by_id = %s, decided_at = now() WHERE id = %s"
    )
    _refused(approve, [operator.pk, mark.pk], "other than its proposer|decided_by_another")
    _refused(approve, [auditor.pk, mark.pk], "does not hold reserve.approve_transfer")
    # nor is the proposal edited while it waits
    _refused("UPDATE reserve_involuntarymark SET category = 'dust' WHERE id = %s", [mark.pk], "never edited")
    assert InvoluntaryMark.objects.get(pk=mark.pk).status == "proposed"
    assert _category(seen) == "other"


def test_a_decided_mark_is_never_edited_nor_deleted(operator: Any, approver: Any, seen: Transfer) -> None:
    mark = involuntary_mark_propose(transfer=seen, category="dust", reason="546 sats", actor=operator)
    involuntary_mark_approve(mark=mark, actor=approver)
    for statement in (
        "UPDATE reserve_involuntarymark SET category = 'donation' WHERE id = %s",
        "UPDATE reserve_involuntarymark SET status = 'proposed', decided_by_id = NULL, decided_at = NULL WHERE id = %s",
        "UPDATE reserve_involuntarymark SET reason = 'other reason' WHERE id = %s",
    ):
        _refused(statement, [mark.pk], "decided marks are immutable")
    _refused("DELETE FROM reserve_involuntarymark WHERE id = %s", [mark.pk], "permission denied|never deleted")
    kept = InvoluntaryMark.objects.get(pk=mark.pk)
    assert (kept.status, kept.category, kept.reason) == ("approved", "dust", "546 sats")


@pytest.mark.django_db(transaction=True)
def test_an_approval_checks_again_that_the_term_is_still_involuntary(
    operator: Any, approver: Any, seen: Transfer
) -> None:
    # given: a mark proposed as a donation, then the term no longer involuntary (the owner's hand)
    mark = involuntary_mark_propose(transfer=seen, category="donation", reason="gift", actor=operator)
    with behind_the_triggers("policy_category") as cursor:
        cursor.execute("UPDATE policy_category SET involuntary = false WHERE code = 'donation'")

    # then: neither the service nor raw SQL as the service role approves it
    with pytest.raises(ValidationFailed) as refused:
        involuntary_mark_approve(mark=mark, actor=approver)
    assert "category" in refused.value.fields
    _refused(
        "UPDATE reserve_involuntarymark SET status = 'approved', decided_by_id = %s, decided_at = now() WHERE id = %s",
        [approver.pk, mark.pk],
        "no longer markable",
    )
    assert (InvoluntaryMark.objects.get(pk=mark.pk).status, _category(seen)) == ("proposed", "other")
