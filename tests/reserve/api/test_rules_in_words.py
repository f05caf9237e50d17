"""The exact sentence of every rule type (tests/policy/test_descriptions.py) is what a policy
administrator reads where the rule is shown: the API's `rules_in_words` and the admin's version page."""

from __future__ import annotations

from html import escape
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from policy.models import PolicyVersion
from tests.policy.test_descriptions import EXACT

pytestmark = pytest.mark.django_db


def test_every_rule_reads_its_exact_sentence_in_the_api_and_the_admin(
    clients: dict[str, Any], users: dict[str, Any]
) -> None:
    # given: one draft holding every rule of the exact-sentence table, drafted through the API
    body = {
        "name": "every rule",
        "scope": {"perimeter": True},
        "effective_from": "2026-01-01T00:00:00Z",
        "rules": [rule for rule, _ in EXACT],
    }
    created = clients["policy_admin"].post("/api/v1/policies/", body, format="json")
    assert created.status_code == 201, created.content
    sentences = [sentence for _, sentence in EXACT]

    # then: the API reads them back, to an auditor too, sentence for sentence
    assert created.json()["rules_in_words"] == sentences
    read = clients["auditor"].get(f"/api/v1/policies/{created.json()['id']}/")
    assert read.json()["rules_in_words"] == sentences

    # and the admin's page of the version shows each one, whole
    users["policy_admin"].is_staff = True
    users["policy_admin"].save()
    admin = Client()
    admin.force_login(users["policy_admin"])
    version = PolicyVersion.objects.get(pk=created.json()["id"])
    page = admin.get(reverse("admin:policy_policyversion_change", args=[version.pk])).content.decode()
    missing = [sentence for sentence in sentences if f"<li>{escape(sentence)}</li>" not in page]
    assert missing == []
