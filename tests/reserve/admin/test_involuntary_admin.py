"""The admin's transfer page lets an operator mark an inflow nobody proposed as involuntary (dust, a
donation, a fork) with a reason, through the service the API uses; an auditor gets no form and a
403, a proposed inflow no form, and a refused mark (no reason, a voluntary term) changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from reserve.audit.models import AuditEvent
from reserve.custody.models import Wallet
from reserve.transfers.models import Transfer
from reserve.transfers.services import transfer_create, transfer_record_observed

pytestmark = pytest.mark.django_db


@pytest.fixture
def seen(wallet: Wallet) -> Transfer:
    transfer, _ = transfer_record_observed(
        direction="inbound",
        amount_sats=546,
        txid="cd" * 32,
        vout=0,
        block_height=200,
        block_hash="ef" * 32,
        occurred_at=datetime(2026, 2, 1, tzinfo=UTC),
        destination_wallet=wallet,
    )
    return transfer


def _page(client: Client, transfer: Transfer) -> str:
    return client.get(reverse("admin:reserve_transfer_change", args=[transfer.pk])).content.decode()


def _mark(client: Client, transfer: Transfer, **data: str) -> Any:
    url = reverse("admin:reserve_transfer_involuntary", args=[transfer.pk])
    return client.post(url, {"category": "dust", "comment": "546 sats to the published address"} | data)


def test_an_operator_marks_an_unproposed_inflow_as_dust_with_its_reason(
    operator: Any, seen: Transfer, signed_in: Callable[[Any], Client]
) -> None:
    client = signed_in(operator)
    page = _page(client, seen)
    assert 'id="involuntary-form"' in page
    assert '<option value="dust">' in page and '<option value="purchase">' not in page

    for refused in ({"comment": " "}, {"category": "purchase"}):
        response = _mark(client, seen, **refused)
        assert response.status_code == 302
        assert "Not marked involuntary: " in _page(client, seen)
        assert Transfer.objects.get(pk=seen.pk).category == "other"

    _mark(client, seen)
    assert Transfer.objects.get(pk=seen.pk).category == "dust"
    assert AuditEvent.objects.filter(action="transfer.mark_involuntary", object_id=str(seen.pk)).count() == 1


def test_an_auditor_and_a_proposed_inflow_get_no_form(
    operator: Any, auditor: Any, wallet: Wallet, seen: Transfer, signed_in: Callable[[Any], Client]
) -> None:
    viewer = signed_in(auditor)
    assert 'id="involuntary-form"' not in _page(viewer, seen)
    assert _mark(viewer, seen).status_code == 403
    proposed = transfer_create(
        actor=operator, direction="inbound", category="purchase", amount_sats=1_000, destination_wallet=wallet
    )
    assert 'id="involuntary-form"' not in _page(signed_in(operator), proposed)
    assert _mark(signed_in(operator), proposed).status_code == 302
    assert Transfer.objects.get(pk=seen.pk).category == "other"
    assert Transfer.objects.get(pk=proposed.pk).category == "purchase"
