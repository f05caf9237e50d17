"""/api/v1/fiat-totals/: a policy administrator records a dated fiat total through
`fiat_total_record`; every role reads them; an operator cannot record one, and a bad value is a
400 naming the field that stores nothing. (The database side: tests/reserve/compliance/test_fiat_totals.py.)"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from reserve.compliance.models import FiatTotal

pytestmark = pytest.mark.django_db

TOTAL = {
    "name": "public_funds",
    "currency": "USD",
    "amount": "2000000000.00",
    "as_of": "2026-12-31T00:00:00Z",
    "reference": "Comptroller's annual report FY2026",
}


def post(client: Any, body: Any) -> Any:
    return client.post("/api/v1/fiat-totals/", body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))


def test_a_policy_admin_records_a_total_every_role_reads_it_and_an_operator_cannot(
    clients: dict[str, Any], users: dict[str, Any]
) -> None:
    # when
    refused = {role: post(clients[role], TOTAL).status_code for role in ("operator", "approver", "auditor")}
    recorded = post(clients["policy_admin"], TOTAL)
    post(clients["policy_admin"], TOTAL | {"name": "gdp", "amount": "30000000000", "as_of": "2027-01-01T00:00:00Z"})

    # then
    assert refused == {"operator": 403, "approver": 403, "auditor": 403}
    assert recorded.status_code == 201, recorded.content
    body = recorded.json()
    assert (body["amount"], body["recorded_by"], body["as_of"]) == ("2000000000.00", "policy_admin-1", TOTAL["as_of"])
    for role in ("auditor", "operator", "approver", "policy_admin"):
        assert clients[role].get(f"/api/v1/fiat-totals/{body['id']}/").json()["reference"] == TOTAL["reference"]
    listed = clients["auditor"].get("/api/v1/fiat-totals/", {"name": "gdp"}).json()["results"]
    assert [(row["name"], row["amount"]) for row in listed] == [("gdp", "30000000000.00")]
    since = clients["auditor"].get("/api/v1/fiat-totals/", {"from": "2027-01-01T00:00:00Z"}).json()["results"]
    assert [row["name"] for row in since] == ["gdp"]
    assert FiatTotal.objects.count() == 2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": "lots"}, "amount"),
        ({"amount": 2000000000.5}, "amount"),
        ({"amount": "12.345"}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"amount": "1e30"}, "amount"),
        ({"currency": "usd"}, "currency"),
        ({"currency": "DOLLARS"}, "currency"),
        ({"name": "public funds!"}, "name"),
        ({"reference": " "}, "reference"),
        ({"as_of": "end of year"}, "as_of"),
        ({"as_of": "1999-01-01T00:00:00Z"}, "as_of"),
        ({"recorded_by": 1}, "recorded_by"),
    ],
)
def test_a_bad_total_is_a_400_naming_the_field_and_stores_nothing(
    clients: dict[str, Any], changes: dict[str, Any], field: str
) -> None:
    response = post(clients["policy_admin"], TOTAL | changes)

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not FiatTotal.objects.exists()


def test_a_recorded_total_is_not_edited_or_deleted_through_the_api(clients: dict[str, Any]) -> None:
    total = post(clients["policy_admin"], TOTAL).json()
    path = f"/api/v1/fiat-totals/{total['id']}/"
    admin = clients["policy_admin"]

    statuses = [
        admin.patch(path, {"amount": "1.00"}, format="json").status_code,
        admin.put(path, TOTAL, format="json").status_code,
        admin.delete(path).status_code,
    ]

    assert statuses == [405, 405, 405]
    assert str(FiatTotal.objects.get().amount) == "2000000000.00"
