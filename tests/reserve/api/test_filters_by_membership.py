"""The agency filters of the transfer register and the journal judge each record by the membership
in force at its time (issue 11, way 4): a wallet that moved to another agency does not take its
history along."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from reserve.custody.membership import membership_approve, membership_propose
from reserve.custody.models import Agency, Wallet
from reserve.custody.services import agency_create
from reserve.transfers.services import transfer_create

pytestmark = pytest.mark.django_db


def inbound(operator: Any, wallet: Wallet, reference: str) -> int:
    draft = transfer_create(
        actor=operator,
        direction="inbound",
        category="forfeiture",
        amount_sats=10_000,
        destination_wallet=wallet,
        provenance_reference=reference,
    )
    return draft.pk


def test_the_transfer_register_filters_by_the_agency_then(
    operator: Any, approver: Any, auditor: Any, agency: Agency, cold_wallet: Wallet
) -> None:
    # given: a transfer while the wallet was the ministry's, then the wallet moved to the bank
    before = inbound(operator, cold_wallet, "Order 1")
    bank = agency_create(name="Central Bank", kind="central_bank", actor=operator)
    membership_approve(
        membership=membership_propose(wallet=cold_wallet, actor=operator, agency=bank, reason="Decree 7"),
        actor=approver,
    )
    after = inbound(operator, cold_wallet, "Order 2")
    client = APIClient()
    client.force_authenticate(auditor)
    # when
    ministry = client.get("/api/v1/transfers/", {"agency": agency.pk}).json()["results"]
    central = client.get("/api/v1/transfers/", {"agency": bank.pk}).json()["results"]
    # then
    assert [row["id"] for row in ministry] == [before]
    assert [row["id"] for row in central] == [after]
