"""Way 6 (issue 11): /ledger/verify/ names a stored value the owner edited with triggers off,
and a policy version whose content was changed after its approvals (the same selectors as
`manage.py verify_ledger`)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from ledger.models import AccountBalance
from policy.models import PolicyVersion
from policy.services import policy_approve
from tests.owner import behind_the_triggers
from tests.reserve.api.conftest import Books


def _with_triggers_off(statement: str, params: list[Any]) -> None:
    """As the owner, behind the triggers of the table the UPDATE names."""
    with behind_the_triggers(statement.split()[1]) as cursor:
        cursor.execute(statement, params)


@pytest.mark.django_db(transaction=True)
def test_verify_names_a_tampered_balance(clients: dict[str, APIClient], books: Books) -> None:
    # given: verified books
    before = clients["auditor"].get("/api/v1/ledger/verify/").json()
    assert before["ok"] is before["stored_values_ok"] is before["policy_versions_ok"] is True
    assert before["first_difference"] is None
    row = AccountBalance.objects.filter(balance_sats__gt=0).order_by("pk").first()
    assert row is not None
    # when
    _with_triggers_off(
        "UPDATE ledger_accountbalance SET balance_sats = balance_sats + 1 WHERE account_id = %s", [row.pk]
    )
    body = clients["auditor"].get("/api/v1/ledger/verify/").json()
    # then
    assert (body["ok"], body["chain_ok"], body["stored_values_ok"]) == (False, True, False)
    assert body["first_difference"] == {
        "check": "current balances",
        "table": "ledger_accountbalance",
        "row": f"account_id={row.pk}",
        "account_id": row.pk,
        "column": "balance_sats",
        "stored": str(row.balance_sats + 1),
        "recomputed": str(row.balance_sats),
    }


@pytest.mark.django_db(transaction=True)
def test_verify_names_a_policy_version_changed_after_approval(
    clients: dict[str, APIClient], books: Books, policy_admins: list[Any]
) -> None:
    draft = books.draft
    first, second = policy_admins[:2]
    policy_approve(version=draft, approver=first)
    assert policy_approve(version=draft, approver=second).status == PolicyVersion.Status.ACTIVE
    assert clients["auditor"].get("/api/v1/ledger/verify/").json()["policy_versions_ok"] is True
    # when
    _with_triggers_off("UPDATE policy_policyversion SET rules = '[]' WHERE id = %s", [draft.pk])
    body = clients["auditor"].get("/api/v1/ledger/verify/").json()
    # then
    assert (body["ok"], body["policy_versions_ok"]) == (False, False)
    assert [
        (row["version_id"], row["policy"], row["approvals_of_content"]) for row in body["policy_versions_unbound"]
    ] == [(draft.pk, "perimeter cap", 0)]
