"""The OpenAPI schema at /api/schema/ documents every endpoint of the issue, its parameters and its errors."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

ISSUE_ENDPOINTS = {
    ("post", "/api/v1/auth/token/"),
    ("get", "/api/v1/holdings/"),
    ("get", "/api/v1/agencies/"),
    ("post", "/api/v1/agencies/"),
    ("get", "/api/v1/wallets/"),
    ("get", "/api/v1/wallets/{id}/"),
    ("post", "/api/v1/wallets/"),
    ("get", "/api/v1/transfers/"),
    ("get", "/api/v1/transfers/{id}/"),
    ("post", "/api/v1/transfers/"),
    ("post", "/api/v1/transfers/{id}/approve/"),
    ("post", "/api/v1/transfers/{id}/reject/"),
    ("post", "/api/v1/transfers/{id}/cancel/"),
    ("get", "/api/v1/ledger/transactions/"),
    ("get", "/api/v1/ledger/accounts/"),
    ("get", "/api/v1/ledger/verify/"),
    ("get", "/api/v1/policies/"),
    ("post", "/api/v1/policies/"),
    ("post", "/api/v1/policies/{id}/approve/"),
    ("post", "/api/v1/policies/evaluate/"),
    ("get", "/api/v1/policy-evaluations/"),
    ("get", "/api/v1/breaches/"),
    ("get", "/api/v1/compliance/"),
    ("get", "/api/v1/reconciliations/"),
    ("get", "/api/v1/discrepancies/"),
    ("get", "/api/v1/audit-events/"),
    ("get", "/api/v1/labels/"),
    ("post", "/api/v1/imports/postings/"),
    ("post", "/api/v1/reserve-proofs/challenges/"),
    ("post", "/api/v1/reserve-proofs/"),
    ("get", "/api/v1/reserve-proofs/{id}/"),
    ("get", "/api/v1/fiat-totals/"),
    ("get", "/api/v1/fiat-totals/{id}/"),
    ("post", "/api/v1/fiat-totals/"),
    ("get", "/api/v1/pledges/"),
    ("get", "/api/v1/pledges/{id}/"),
    ("post", "/api/v1/pledges/"),
    ("post", "/api/v1/pledges/{id}/approve/"),
    ("post", "/api/v1/pledges/{id}/release/"),
}
TRANSFER_WRITES = {
    path for method, path in ISSUE_ENDPOINTS if method == "post" and path.startswith("/api/v1/transfers/")
}


@pytest.fixture
def schema(db: None) -> dict[str, Any]:
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_every_endpoint_of_the_issue_is_documented(schema: dict[str, Any]) -> None:
    # when
    documented = {(method, path) for path, item in schema["paths"].items() for method in item}
    # then
    assert documented >= ISSUE_ENDPOINTS


def test_every_operation_documents_its_errors_in_the_one_shape(schema: dict[str, Any]) -> None:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            # then
            if path.endswith("/auth/token/"):
                assert {"400", "401", "429"} <= set(responses)
            elif not path.endswith("/auth/logout/"):
                assert {"400", "401", "403"} <= set(responses), (method, path)
            assert "401" in responses, (method, path)
            error = responses["401"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/Error"}, (method, path)
            if method == "post" and path != "/api/v1/auth/token/" and path != "/api/v1/auth/logout/":
                assert "409" in responses or path.endswith("/evaluate/"), (method, path)


def test_lists_document_filters_pagination_and_csv(schema: dict[str, Any]) -> None:
    # given
    operation = schema["paths"]["/api/v1/transfers/"]["get"]
    # then
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"from", "to", "wallet", "agency", "category", "status", "page", "format"} <= names
    assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv"}


def test_transfer_writes_require_an_idempotency_key(schema: dict[str, Any]) -> None:
    for path in TRANSFER_WRITES:
        parameters = schema["paths"][path]["post"]["parameters"]
        key = next(parameter for parameter in parameters if parameter["name"] == "Idempotency-Key")
        assert key["in"] == "header" and key["required"] is True, path


def test_amounts_are_integers_and_btc_strings(schema: dict[str, Any]) -> None:
    # given
    transfer = schema["components"]["schemas"]["Transfer"]["properties"]
    # then
    assert transfer["amount_sats"]["type"] == "integer"
    assert transfer["amount_btc"]["type"] == "string"
    assert transfer["amount_btc"]["pattern"] == r"^-?[0-9]+\.[0-9]{8}$"


def test_schema_generates_without_warnings(tmp_path: Any) -> None:
    # when: every view, serializer, filter and enum resolves to a schema without guessing
    from django.core.management import call_command

    call_command("spectacular", file=str(tmp_path / "schema.yaml"), fail_on_warn=True, validate=True, skip_checks=True)
    # then
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3")
