"""The API offers no way to change a wallet's agency or perimeter flag: there is no update
endpoint, and a crafted write is refused with nothing changed; holdings filters judge by the
membership in force at the report's point."""

from __future__ import annotations

from typing import Any

import pytest

from reserve.custody.models import Wallet
from tests.reserve.api.conftest import Books

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("method", ["patch", "put"])
def test_a_wallet_cannot_be_unticked_through_the_api(clients: dict[str, Any], books: Books, method: str) -> None:
    cold = books.cold
    before = Wallet.objects.values_list("agency_id", "in_perimeter").get(pk=cold.pk)
    for role in ("operator", "approver"):
        response = getattr(clients[role], method)(
            f"/api/v1/wallets/{cold.pk}/", {"in_perimeter": False, "agency": books.agency.pk + 1}, format="json"
        )
        assert response.status_code == 405
        assert set(response.json()["error"]) >= {"code", "message"}
    assert Wallet.objects.values_list("agency_id", "in_perimeter").get(pk=cold.pk) == before


def test_the_wallet_list_reports_the_membership_in_force(clients: dict[str, Any], books: Books) -> None:
    rows = clients["auditor"].get("/api/v1/wallets/", {"in_perimeter": "true"}).json()["results"]
    assert books.cold.pk in {row["id"] for row in rows}
    assert all(row["in_perimeter"] for row in rows)
