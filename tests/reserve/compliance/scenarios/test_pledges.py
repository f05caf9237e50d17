"""Pledges and liabilities through the services and the database: a Bhutan-style pledge of a
wallet's coins is approved up to the encumbrance cap to the sat and refused one sat over; a
bitcoin-linked liability is refused while a policy forbids them; and the service's role cannot
approve its own record, edit an approved one, or take a release back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from config.errors import Conflict, PermissionDenied, ValidationFailed
from policy.selectors import policy_compliance_report
from policy.types import PolicyScope
from reserve.audit.models import AuditEvent
from reserve.compliance.facts import ReservePolicyFacts
from reserve.compliance.models import Pledge
from reserve.compliance.pledge_services import pledge_approve, pledge_make, pledge_release
from reserve.custody.models import Wallet
from tests.owner import requires_role_split
from tests.reserve.compliance.scenarios.conftest import BTC, People, activate_policy
from tests.reserve.compliance.scenarios.test_cap_race import all_at_once

START = datetime(2026, 1, 1, tzinfo=UTC)


def _pledge(people: People, wallet: Wallet | None, sats: int, *, kind: str = "collateral", maker: int = 0) -> Pledge:
    return pledge_make(
        actor=people.policy_admins[maker],
        kind=kind,
        wallet=wallet,
        amount_sats=sats,
        purpose="Collateral for the hydropower bond",
        reference="Cabinet order 2026/14",
        dated=date(2026, 6, 1),
    )


def test_a_pledge_is_approved_at_the_cap_to_the_sat_and_refused_one_sat_over(people: People, cold: Wallet) -> None:
    activate_policy(
        people,
        name="Pledge ceiling",
        scope=PolicyScope("wallet", cold.pk),
        rules=[{"type": "encumbrance_cap", "params": {"max_sats": 10 * BTC}}],
        effective_from=START,
    )
    checker = people.policy_admins[1]
    at_cap = pledge_approve(pledge=_pledge(people, cold, 10 * BTC - 1), approver=checker)
    pledge_approve(pledge=_pledge(people, cold, 1), approver=checker)
    one_over = _pledge(people, cold, 1)

    with pytest.raises(PermissionDenied) as caught:
        pledge_approve(pledge=one_over, approver=checker)

    assert "10.00000001 BTC against a cap of 10.00000000 BTC" in str(caught.value)
    one_over.refresh_from_db()
    assert one_over.approved_at is None
    facts = ReservePolicyFacts()
    assert facts.encumbered_sats(scope=PolicyScope("wallet", cold.pk)) == 10 * BTC
    assert facts.encumbered_sats(scope=PolicyScope("perimeter")) == 10 * BTC
    # Released, the pledge frees its room: the refused one now fits.
    pledge_release(pledge=at_cap, actor=checker, reference="Bond repaid, release deed 2027/2")
    pledge_approve(pledge=one_over, approver=checker)
    assert facts.encumbered_sats(scope=PolicyScope("wallet", cold.pk)) == 2
    assert AuditEvent.objects.filter(action="pledge.release", object_id=str(at_cap.pk)).exists()


def test_a_liability_is_refused_while_forbidden_and_counts_apart_from_pledges(people: People, cold: Wallet) -> None:
    liability = _pledge(people, None, 500 * BTC, kind="liability")
    pledge_approve(pledge=liability, approver=people.policy_admins[2])
    facts = ReservePolicyFacts()
    assert facts.liabilities_sats(scope=PolicyScope("wallet", cold.pk)) == 500 * BTC
    assert facts.encumbered_sats(scope=PolicyScope("perimeter")) == 0

    activate_policy(
        people,
        name="No bitcoin debt",
        scope=PolicyScope("perimeter"),
        rules=[{"type": "no_bitcoin_liabilities", "params": {}}],
        effective_from=START,
    )
    second = _pledge(people, cold, BTC, kind="liability")
    with pytest.raises(PermissionDenied, match="No bitcoin debt: no bitcoin-linked liabilities"):
        pledge_approve(pledge=second, approver=people.policy_admins[2])
    # A pledge of coins is no liability: the rule lets it through.
    pledge_approve(pledge=_pledge(people, cold, BTC), approver=people.policy_admins[2])


def test_the_maker_never_approves_and_a_record_is_approved_and_released_once(people: People, cold: Wallet) -> None:
    pledge = _pledge(people, cold, BTC)
    with pytest.raises(PermissionDenied, match="proposer of a pledge can never approve it"):
        pledge_approve(pledge=pledge, approver=people.policy_admins[0])
    with pytest.raises(PermissionDenied):
        pledge_approve(pledge=pledge, approver=people.operator)
    with pytest.raises(Conflict):
        pledge_release(pledge=pledge, actor=people.policy_admins[1], reference="too early")
    pledge_approve(pledge=pledge, approver=people.policy_admins[1])
    with pytest.raises(Conflict):
        pledge_approve(pledge=pledge, approver=people.policy_admins[2])
    pledge_release(pledge=pledge, actor=people.policy_admins[1], reference="Release deed")
    with pytest.raises(Conflict):
        pledge_release(pledge=pledge, actor=people.policy_admins[2], reference="again")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount_sats": 0}, "amount_sats"),
        ({"amount_sats": 21_000_000 * BTC + 1}, "amount_sats"),
        ({"kind": "loan"}, "kind"),
        ({"wallet": None}, "wallet"),
        ({"reference": " "}, "reference"),
    ],
)
def test_a_bad_record_is_refused_naming_the_field(
    people: People, cold: Wallet, overrides: dict[str, Any], field: str
) -> None:
    fields: dict[str, Any] = {
        "actor": people.policy_admins[0],
        "kind": "commitment",
        "wallet": cold,
        "amount_sats": BTC,
        "purpose": "Strategic reserve, no sale for 20 years",
        "reference": "Act 7",
        "dated": date(2026, 6, 1),
    }
    with pytest.raises(ValidationFailed) as caught:
        pledge_make(**(fields | overrides))
    assert field in caught.value.fields
    assert not Pledge.objects.exists()


@requires_role_split
@pytest.mark.django_db(transaction=True)
def test_the_service_role_cannot_approve_its_own_edit_an_approved_or_undo_a_release(
    people: People, cold: Wallet
) -> None:
    maker, checker = people.policy_admins[0].pk, people.policy_admins[1].pk
    pending = _pledge(people, cold, BTC)
    approved = pledge_approve(pledge=_pledge(people, cold, BTC), approver=people.policy_admins[1])
    released = pledge_release(
        pledge=pledge_approve(pledge=_pledge(people, cold, BTC), approver=people.policy_admins[1]),
        actor=people.policy_admins[1],
        reference="Release deed",
    )
    attempts: list[tuple[str, list[Any], type[Exception], str]] = [
        (
            "UPDATE reserve_pledge SET approved_by_id = %s, approved_at = now() WHERE id = %s",
            [maker, pending.pk],
            IntegrityError,
            "reserve_pledge_checker_not_maker",
        ),
        (
            "INSERT INTO reserve_pledge (kind, wallet_id, amount_sats, purpose, reference, dated, made_by_id,"
            " made_at, approved_by_id, approved_at, release_reference) VALUES ('collateral', %s, 1, 'p', 'r',"
            " '2026-06-01', %s, now(), %s, now(), '')",
            [cold.pk, maker, maker],
            IntegrityError,
            "reserve_pledge_checker_not_maker",
        ),
        ("UPDATE reserve_pledge SET amount_sats = 1 WHERE id = %s", [approved.pk], IntegrityError, "not edited"),
        (
            "UPDATE reserve_pledge SET approved_by_id = %s WHERE id = %s",
            [maker, approved.pk],
            IntegrityError,
            "given once",
        ),
        (
            "UPDATE reserve_pledge SET approved_at = now() - interval '1 day' WHERE id = %s",
            [approved.pk],
            IntegrityError,
            "given once",
        ),
        (
            "UPDATE reserve_pledge SET released_at = NULL, released_by_id = NULL WHERE id = %s",
            [released.pk],
            IntegrityError,
            "released once",
        ),
        (
            "UPDATE reserve_pledge SET released_at = now(), released_by_id = %s WHERE id = %s",
            [checker, pending.pk],
            IntegrityError,
            "reserve_pledge_release_after_approval",
        ),
        (
            "UPDATE reserve_pledge SET approved_by_id = NULL, approved_at = NULL WHERE id = %s",
            [approved.pk],
            IntegrityError,
            "given once",
        ),
        ("DELETE FROM reserve_pledge WHERE id = %s", [approved.pk], DatabaseError, "permission denied"),
        ("TRUNCATE reserve_pledge CASCADE", [], DatabaseError, "permission denied"),
    ]
    for statement, params, error, message in attempts:
        with pytest.raises(error, match=message), transaction.atomic():
            connection.cursor().execute(statement, params)
    assert Pledge.objects.get(pk=approved.pk).amount_sats == BTC
    assert Pledge.objects.get(pk=pending.pk).approved_at is None
    assert Pledge.objects.get(pk=released.pk).released_at is not None


@pytest.mark.django_db(transaction=True)
def test_two_approvals_at_once_against_one_cap_are_judged_in_turn(people: People, cold: Wallet) -> None:
    activate_policy(
        people,
        name="Pledge ceiling",
        scope=PolicyScope("wallet", cold.pk),
        rules=[{"type": "encumbrance_cap", "params": {"max_sats": 10 * BTC}}],
        effective_from=START,
    )
    pledges = [_pledge(people, cold, 6 * BTC) for _ in range(2)]
    checker = people.policy_admins[1]

    def approve(pledge: Pledge) -> Callable[[], Pledge]:
        return lambda: pledge_approve(pledge=pledge, approver=checker)

    results = all_at_once([approve(pledge) for pledge in pledges])

    assert sorted(type(result).__name__ for result in results) == ["PermissionDenied", "Pledge"]
    assert Pledge.objects.filter(approved_at__isnull=False).count() == 1
    assert ReservePolicyFacts().encumbered_sats(scope=PolicyScope("wallet", cold.pk)) == 6 * BTC


def test_the_compliance_report_shows_a_liability_on_the_days_it_stood_and_not_before_or_after(
    people: People, cold: Wallet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a liability approved on 10 March and released on 20 March; then a policy forbidding them
    clock = {"now": datetime(2026, 3, 10, 12, tzinfo=UTC)}
    monkeypatch.setattr(timezone, "now", lambda: clock["now"])
    liability = pledge_approve(pledge=_pledge(people, cold, BTC, kind="liability"), approver=people.policy_admins[1])
    clock["now"] = datetime(2026, 3, 20, 12, tzinfo=UTC)
    pledge_release(pledge=liability, actor=people.policy_admins[1], reference="Bond repaid")
    clock["now"] = datetime(2026, 4, 1, tzinfo=UTC)
    version = activate_policy(
        people,
        name="No bitcoin debt",
        scope=PolicyScope("perimeter"),
        rules=[{"type": "no_bitcoin_liabilities", "params": {}}],
        effective_from=START,
    )

    # when: the report covers 8 to 22 March
    rows = policy_compliance_report(
        version_or_policy=version,
        since=datetime(2026, 3, 8, tzinfo=UTC),
        until=datetime(2026, 3, 23, tzinfo=UTC),
        facts=ReservePolicyFacts(),
    )

    # then: a breach on each day it stood some of, from its approval's day to its release's, as it was then
    days = [(row.day.day, row.verdict) for row in rows if row.kind == "day"]
    assert days == [(day, "deny" if 10 <= day <= 20 else "allow") for day in range(8, 23)]
