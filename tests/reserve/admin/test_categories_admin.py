"""The category vocabulary in the admin: a policy administrator proposes a term, two others approve
it with the list's action; the author's own approval and an operator's change nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from policy.models import Category

pytestmark = pytest.mark.django_db

PROPOSAL = {
    "code": "escheat",
    "kind": "inflow",
    "legal_reference": "State Unclaimed Property Act s. 12",
    "description": "Bitcoin escheated to the state after the dormancy period.",
}


def test_a_term_proposed_in_the_admin_is_in_force_after_two_other_approvals(
    policy_admins: list[Any], operator: Any, signed_in: Callable[[Any], Client]
) -> None:
    author, first, second = policy_admins
    assert signed_in(operator).post(reverse("admin:policy_category_add"), PROPOSAL).status_code == 403
    response = signed_in(author).post(reverse("admin:policy_category_add"), PROPOSAL)
    assert response.status_code == 302
    term = Category.objects.get(code="escheat")
    changelist = reverse("admin:policy_category_changelist")
    action = {"action": "approve", "_selected_action": [str(term.pk)]}
    assert signed_in(author).post(changelist, action).status_code == 403
    signed_in(first).post(changelist, action)
    assert Category.objects.get(pk=term.pk).status == "draft"
    signed_in(second).post(changelist, action)
    assert Category.objects.get(pk=term.pk).status == "active"
    page = signed_in(operator).get(reverse("admin:reserve_transfer_add"))
    assert b"escheat" in page.content


def test_a_bad_code_is_shown_on_the_form_and_nothing_is_saved(
    policy_admins: list[Any], signed_in: Callable[[Any], Client]
) -> None:
    response = signed_in(policy_admins[0]).post(reverse("admin:policy_category_add"), PROPOSAL | {"code": "Es Cheat"})
    assert response.status_code == 400
    assert b"lower-case letters" in response.content
    assert not Category.objects.filter(code__in=["escheat", "Es Cheat"]).exists()


def test_the_sidebar_counts_draft_terms_for_those_who_could_approve_them(
    policy_admins: list[Any], auditor: Any, signed_in: Callable[[Any], Client]
) -> None:
    author, first, second = policy_admins

    def badge(user: Any) -> str:
        groups = signed_in(user).get(reverse("admin:index")).context["sidebar_navigation"]
        [policy] = [group for group in groups if group.get("title") == "Policy"]
        return {item["title"]: item.get("badge", "") for item in policy["items"]}["Categories"]

    assert signed_in(author).post(reverse("admin:policy_category_add"), PROPOSAL).status_code == 302
    assert (badge(author), badge(first), badge(second), badge(auditor)) == ("", "1", "1", "")
    term = Category.objects.get(code="escheat")
    signed_in(first).post(
        reverse("admin:policy_category_changelist"), {"action": "approve", "_selected_action": [str(term.pk)]}
    )
    assert (badge(first), badge(second)) == ("", "1")
