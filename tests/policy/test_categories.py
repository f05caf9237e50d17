"""The governed category vocabulary: built-in terms seeded active, new terms proposed by a policy
administrator and in force only with two approvals of their content by others; the database
refuses the same to raw SQL on the service's own connection."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction

from config.errors import Conflict, PermissionDenied, ValidationFailed
from policy.models import Category
from policy.permissions import DRAFT_VERSION
from policy.selectors import category_check, category_codes
from policy.services import category_approve, category_propose, policy_create_draft
from policy.types import CATEGORIES
from tests.owner import requires_role_split
from tests.policy.builders import PERIMETER, T0
from tests.policy.conftest import make_user

SEED = Path(__file__).resolve().parents[2] / "policy" / "sql" / "0005_policy_category_seed.sql"
ISSUE_TERMS = {
    "seizure",
    "forfeiture",
    "civil_penalty",
    "return_to_victims",
    "court_order_disposal",
    "law_enforcement_operations",
    "equitable_sharing",
    "statutory_release",
    "unclaimed_property",
    "appropriation",
    "fork_airdrop",
    "internal_consolidation",
    "agency_consolidation",
    "dust",
    "donation",
}
LIMIT = {"type": "transfer_limit", "params": {"max_sats": 10, "direction": "inbound", "categories": ["strategic"]}}


def _propose(author: User, code: str = "strategic") -> Category:
    return category_propose(
        code=code,
        kind="inflow",
        legal_reference="Strategic Reserve Act s. 4",
        description="Purchases under the yearly strategic allowance.",
        author=author,
    )


def test_the_seed_holds_exactly_the_built_in_terms_each_with_its_legal_reference(db) -> None:
    seeded = set(re.findall(r"^\s*\('([a-z_]+)', '(?:inflow|outflow|internal|any)'", SEED.read_text(), re.M))
    assert seeded == set(CATEGORIES) >= ISSUE_TERMS
    rows = Category.objects.filter(code__in=CATEGORIES)
    assert {row.code for row in rows if row.status == "active" and row.legal_reference} == set(CATEGORIES)
    assert {row.code for row in rows if row.involuntary} == {"dust", "donation", "fork_airdrop"}


def test_a_term_is_in_force_only_after_two_approvals_by_others(admins) -> None:
    author, first, second = admins
    category = _propose(author)
    with pytest.raises(ValidationFailed) as refused:
        category_check("strategic")
    assert "category" in refused.value.fields
    with pytest.raises(ValidationFailed) as refused:
        policy_create_draft(name="limits", scope=PERIMETER, rules=[LIMIT], effective_from=T0, author=author)
    assert "rules[0].params.categories" in refused.value.fields
    with pytest.raises(PermissionDenied):
        category_approve(category=category, approver=author)
    assert category_approve(category=category, approver=first).status == "draft"
    with pytest.raises(Conflict):
        category_approve(category=category, approver=first)
    assert category_approve(category=category, approver=second).status == "active"
    assert "strategic" in category_codes()
    draft = policy_create_draft(name="limits", scope=PERIMETER, rules=[LIMIT], effective_from=T0, author=author)
    assert draft.rules[0]["params"]["categories"] == ["strategic"]


def test_only_policy_administrators_propose_and_approve(admins) -> None:
    author = admins[0]
    outsider = make_user("olga")
    drafter = make_user("dora", DRAFT_VERSION)
    with pytest.raises(PermissionDenied):
        _propose(outsider)
    category = _propose(drafter)
    with pytest.raises(PermissionDenied):
        category_approve(category=category, approver=make_user("vera", DRAFT_VERSION))
    category_approve(category=category, approver=author)
    assert Category.objects.get(pk=category.pk).status == "draft"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"code": "Bad Code"}, "code"),
        ({"code": "x"}, "code"),
        ({"kind": "sideways"}, "kind"),
        ({"legal_reference": "  "}, "legal_reference"),
        ({"description": ""}, "description"),
        ({"code": "purchase"}, "code"),
    ],
)
def test_a_bad_proposal_names_its_field(admins, fields: dict[str, str], field: str) -> None:
    values = {"code": "strategic", "kind": "inflow", "legal_reference": "Act s. 4", "description": "Purchases."}
    with pytest.raises((ValidationFailed, Conflict)) as refused:
        category_propose(**{**values, **fields}, author=admins[0])  # type: ignore[arg-type]
    assert field in refused.value.fields
    assert not Category.objects.filter(code=values["code"]).exists()


def _refused(statement: str, params: list[Any]) -> None:
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)


@requires_role_split
@pytest.mark.django_db(transaction=True)
def test_raw_sql_as_the_service_cannot_bring_a_term_into_force(admins) -> None:
    author, first, second = admins
    category = _propose(author)
    insert = (
        "INSERT INTO policy_category (code, kind, legal_reference, description, involuntary, status, author_id,"
        " created_at, activated_at) VALUES (%s, 'inflow', 'ref', 'text', false, %s, %s, now(), %s)"
    )
    _refused(insert, ["smuggled", "active", author.pk, "2026-01-01T00:00:00Z"])
    _refused(insert, ["orphan", "draft", None, None])
    _refused("UPDATE policy_category SET status = 'active', activated_at = now() WHERE id = %s", [category.pk])
    # The author's own approval, and one by a holder of no approval permission.
    approve = "INSERT INTO policy_categoryapproval (category_id, approver_id, approved_at, content_sha256) VALUES"
    _refused(f"{approve} (%s, %s, now(), '')", [category.pk, author.pk])
    _refused(f"{approve} (%s, %s, now(), '')", [category.pk, make_user("olga").pk])
    _refused(f"{approve} (%s, %s, now(), %s)", [category.pk, first.pk, "0" * 64])
    category_approve(category=category, approver=first)
    # Approved content is permanent, and so are the approvals.
    _refused("UPDATE policy_category SET legal_reference = 'looser' WHERE id = %s", [category.pk])
    _refused("DELETE FROM policy_categoryapproval WHERE category_id = %s", [category.pk])
    category_approve(category=category, approver=second)
    purchase = Category.objects.get(code="purchase")
    for statement in (
        "UPDATE policy_category SET description = 'anything' WHERE id = %s",
        "UPDATE policy_category SET status = 'draft', activated_at = NULL WHERE id = %s",
        "DELETE FROM policy_category WHERE id = %s",
    ):
        _refused(statement, [category.pk])
        _refused(statement, [purchase.pk])
    assert Category.objects.get(pk=category.pk).status == "active"
    assert (
        Category.objects.get(pk=purchase.pk).description
        == "Bitcoin bought with public funds under a purchase contract."
    )
