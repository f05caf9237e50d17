"""POST /api/v1/transfers/{id}/mark-involuntary/: an operator classes an inflow nobody proposed as
dust (or a donation, a fork) with the reason, and the holdings report leaves it out on request; the
wrong role is a 403, a voluntary category or no reason a 400 naming the field, a proposed transfer
a 409, and nothing changes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from reserve.transfers.models import Transfer
from reserve.transfers.services import transfer_create, transfer_record_observed
from tests.reserve.api.conftest import Custody

pytestmark = pytest.mark.django_db


def _mark(client: Any, transfer: Transfer, **body: Any) -> Any:
    return client.post(
        f"/api/v1/transfers/{transfer.pk}/mark-involuntary/",
        {"category": "dust", "reason": "546 sats to the published address"} | body,
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )


@pytest.fixture
def seen(custody: Custody) -> Transfer:
    transfer, _ = transfer_record_observed(
        direction="inbound",
        amount_sats=546,
        txid="cd" * 32,
        vout=0,
        block_height=104,
        block_hash="ef" * 32,
        occurred_at=datetime(2026, 2, 1, tzinfo=UTC),
        destination_wallet=custody.cold,
    )
    return transfer


def _total(client: Any, **query: str) -> int:
    return int(client.get("/api/v1/holdings/", query).json()["total_sats"])


@pytest.mark.parametrize(
    ("role", "body", "status", "field"),
    [
        ("auditor", {}, 403, None),
        ("approver", {}, 403, None),
        ("operator", {"category": "purchase"}, 400, "category"),
        ("operator", {"category": "no_such_term"}, 400, "category"),
        ("operator", {"reason": " "}, 400, "reason"),
        ("operator", {"reason": ["a", "b"]}, 400, "reason"),
    ],
)
def test_a_refused_mark_names_its_field_and_changes_nothing(
    clients: dict[str, Any], seen: Transfer, role: str, body: dict[str, Any], status: int, field: str | None
) -> None:
    response = _mark(clients[role], seen, **body)
    assert response.status_code == status, response.content
    if field is not None:
        assert field in response.json()["error"]["fields"], response.json()
    assert Transfer.objects.get(pk=seen.pk).category == "other"


def test_a_proposed_inflow_cannot_be_marked(clients: dict[str, Any], users: dict[str, Any], custody: Custody) -> None:
    proposed = transfer_create(
        actor=users["operator"],
        direction="inbound",
        category="purchase",
        amount_sats=1_000,
        destination_wallet=custody.cold,
    )
    response = _mark(clients["operator"], proposed, category="donation")
    assert response.status_code == 409 and "transfer" in response.json()["error"]["fields"]
    assert Transfer.objects.get(pk=proposed.pk).category == "purchase"


def test_an_operator_marks_dust_and_the_holdings_report_leaves_it_out(clients: dict[str, Any], seen: Transfer) -> None:
    auditor = clients["auditor"]
    assert (_total(auditor), _total(auditor, involuntary="false")) == (546, 546)

    response = _mark(clients["operator"], seen)

    assert response.status_code == 200, response.content
    assert response.json()["category"] == "dust"
    assert (_total(auditor), _total(auditor, involuntary="false"), _total(auditor, involuntary="true")) == (546, 0, 546)


@pytest.mark.parametrize("pk", ["99999999999999999999", "0"])
def test_an_unknown_or_overflowing_id_is_a_404_in_the_error_shape(clients: dict[str, Any], pk: str) -> None:
    response = clients["operator"].post(
        f"/api/v1/transfers/{pk}/mark-involuntary/",
        {"category": "dust", "reason": "x"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert response.status_code == 404 and "error" in response.json()
