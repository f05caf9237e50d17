"""Strict money input (issue 12): satoshis and ids are JSON integers, never strings, floats or
booleans that DRF would coerce; too many query parameters are a fast 400 naming the query."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from reserve.custody.models import Wallet
from reserve.transfers.models import Transfer

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(operator: Any) -> APIClient:
    api = APIClient()
    api.force_authenticate(operator)
    return api


def inbound(wallet: Wallet, **override: Any) -> dict[str, Any]:
    return {
        "direction": "inbound",
        "category": "forfeiture",
        "amount_sats": 50_000,
        "destination_wallet": wallet.pk,
        "provenance_reference": "Order 12",
    } | override


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount_sats", "12"),
        ("amount_sats", 12.0),
        ("amount_sats", 1.5),
        ("amount_sats", True),
        ("fee_sats", "0"),
        ("destination_wallet", "1"),
        ("destination_wallet", 1.0),
        ("destination_wallet", False),
    ],
)
def test_a_number_that_is_not_a_json_integer_is_refused_by_name(
    client: APIClient, cold_wallet: Wallet, field: str, value: Any
) -> None:
    # given
    body = inbound(cold_wallet, **{field: value})
    before = Transfer.objects.count()
    # when
    response = client.post("/api/v1/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY=f"{field}-{value!r}")
    # then
    assert response.status_code == 400, response.content
    assert list(response.json()["error"]["fields"]) == [field]
    assert "JSON integer" in response.json()["error"]["fields"][field][0]
    assert Transfer.objects.count() == before


def test_the_same_request_with_integers_is_accepted(client: APIClient, cold_wallet: Wallet) -> None:
    response = client.post("/api/v1/transfers/", inbound(cold_wallet), format="json", HTTP_IDEMPOTENCY_KEY="ok")
    assert response.status_code == 201, response.content


def test_more_query_parameters_than_allowed_is_a_400_naming_the_query(client: APIClient) -> None:
    # when
    many = client.get("/api/v1/transfers/?" + "&".join(f"wallet={index}" for index in range(5_000)))
    few = client.get("/api/v1/transfers/?status=draft&page=1")
    # then
    assert many.status_code == 400
    assert many.json()["error"]["fields"] == {"query": ["at most 100 query parameters, got 5000"]}
    assert few.status_code == 200
