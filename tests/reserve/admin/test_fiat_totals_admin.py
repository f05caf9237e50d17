"""Fiat totals in the admin: a policy administrator records one with the add form (through
`fiat_total_record`); an operator cannot; every role reads them; nothing edits or deletes one,
and a bad value is shown on its field with nothing saved."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from reserve.compliance.models import FiatTotal

pytestmark = pytest.mark.django_db

TOTAL = {
    "name": "public_funds",
    "currency": "USD",
    "amount": "2000000000.00",
    "as_of": "2026-12-31 00:00",
    "reference": "Comptroller's annual report FY2026",
}


def test_a_policy_admin_records_a_total_that_nobody_edits_or_deletes(
    policy_admins: list[Any], operator: Any, auditor: Any, signed_in: Callable[[Any], Client]
) -> None:
    # given
    add = reverse("admin:reserve_fiattotal_add")
    admin = signed_in(policy_admins[0])

    # when
    refused = [signed_in(operator).get(add).status_code, signed_in(operator).post(add, TOTAL).status_code]
    recorded = admin.post(add, TOTAL)
    total = FiatTotal.objects.get()
    change = reverse("admin:reserve_fiattotal_change", args=[total.pk])
    edited = admin.post(change, TOTAL | {"amount": "1.00"})
    deleted = admin.post(reverse("admin:reserve_fiattotal_delete", args=[total.pk]), {"post": "yes"})
    listed = signed_in(auditor).get(reverse("admin:reserve_fiattotal_changelist"))

    # then
    assert refused == [403, 403]
    assert recorded.status_code == 302
    assert (total.amount, total.recorded_by, total.as_of.isoformat()) == (
        Decimal("2000000000.00"),
        policy_admins[0],
        "2026-12-31T00:00:00+00:00",
    )
    assert edited.status_code == 403 and deleted.status_code == 403
    assert listed.status_code == 200 and b"Comptroller" in listed.content
    assert FiatTotal.objects.get().amount == Decimal("2000000000.00")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"amount": "lots"}, "amount", "must be a decimal number"),
        ({"amount": "12.345"}, "amount", "whole cents"),
        ({"currency": "usd"}, "currency", "ISO 4217"),
        ({"name": "public funds!"}, "name", "slug"),
        ({"as_of": "end of year"}, "as_of", "valid date/time"),
    ],
)
def test_a_bad_value_is_shown_on_its_field_and_nothing_is_saved(
    policy_admins: list[Any], signed_in: Callable[[Any], Client], changes: dict[str, str], field: str, message: str
) -> None:
    response = signed_in(policy_admins[0]).post(reverse("admin:reserve_fiattotal_add"), TOTAL | changes)

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert not FiatTotal.objects.exists()
