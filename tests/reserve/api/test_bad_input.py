"""Bad input gets a 4xx in the one error shape, naming the field; never a 500. Illegal transitions are 409."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.reserve.api.conftest import EXTERNAL, Books, Custody

MAINNET_ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


def post(client: Any, path: str, body: Any, **headers: Any) -> Any:
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()), **headers)


def transfer(custody: Custody, **changes: Any) -> dict[str, Any]:
    body = {
        "direction": "outbound",
        "category": "return_to_victims",
        "amount_sats": 1_000_000,
        "source_wallet": custody.cold.pk,
        "external_address": EXTERNAL,
    }
    return body | changes


CASES: list[tuple[str, str, Any, str]] = [
    # (role, path or "post:path", body or query, field named)
    ("auditor", "/api/v1/holdings/?as_of=yesterday", None, "as_of"),
    ("auditor", "/api/v1/holdings/?height=-1", None, "height"),
    ("auditor", "/api/v1/holdings/?height=abc", None, "height"),
    ("auditor", "/api/v1/holdings/?height=105", None, "height"),
    ("auditor", "/api/v1/ledger/accounts/?height=105", None, "height"),
    ("auditor", "/api/v1/holdings/?group_by=planet", None, "group_by"),
    ("auditor", "/api/v1/holdings/?as_of=2026-03-01T00:00:00Z&height=101", None, "height"),
    ("auditor", "/api/v1/holdings/?currency=US", None, "currency"),
    ("auditor", "/api/v1/holdings/?wallet=999999", None, "wallet"),
    ("auditor", "/api/v1/holdings/?colour=red", None, "colour"),
    ("auditor", "/api/v1/transfers/?from=not-a-date", None, "from"),
    ("auditor", "/api/v1/transfers/?status=lost", None, "status"),
    ("auditor", "/api/v1/transfers/?wallet=abc", None, "wallet"),
    ("auditor", "/api/v1/ledger/accounts/?height=1&as_of=2026-01-01T00:00:00Z", None, "as_of"),
    ("auditor", "/api/v1/compliance/?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", None, "to"),
    ("auditor", "/api/v1/compliance/?to=2026-03-01T00:00:00Z", None, "from"),
    ("auditor", "/api/v1/compliance/?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", None, "to"),
    ("auditor", "/api/v1/labels/?agency=x", None, "agency"),
    ("auditor", "/api/v1/holdings/?as_of=1999-01-01T00:00:00Z", None, "as_of"),
    ("auditor", "/api/v1/compliance/?from=9999-12-31T00:00:00Z&to=9999-12-31T12:00:00Z", None, "from"),
    ("auditor", "/api/v1/ledger/accounts/?posted_as_of=0001-01-01T00:00:00%2B01:00", None, "posted_as_of"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "path", "body", "field"), CASES)
def test_bad_query_names_the_field(
    clients: dict[str, Any], custody: Custody, role: str, path: str, body: Any, field: str
) -> None:
    # when
    response = clients[role].get(path)
    # then
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert field in error["fields"], error
    assert error["code"] == "invalid"


WRITE_CASES: list[tuple[str, str, Any, str]] = [
    ("operator", "/api/v1/transfers/", {"amount_sats": 0}, "amount_sats"),
    ("operator", "/api/v1/transfers/", {"amount_sats": "1.5"}, "amount_sats"),
    ("operator", "/api/v1/transfers/", {"amount_sats": 2_100_000_000_000_001}, "amount_sats"),
    ("operator", "/api/v1/transfers/", {"fee_sats": -1}, "fee_sats"),
    ("operator", "/api/v1/transfers/", {"direction": "sideways"}, "direction"),
    ("operator", "/api/v1/transfers/", {"category": "not_approved"}, "category"),
    ("operator", "/api/v1/transfers/", {"category": ["sale"]}, "category"),
    ("operator", "/api/v1/transfers/", {"external_address": MAINNET_ADDRESS}, "external_address"),
    ("operator", "/api/v1/transfers/", {"external_address": EXTERNAL[:-1] + "x"}, "external_address"),
    ("operator", "/api/v1/transfers/", {"source_wallet": 999999}, "source_wallet"),
    ("operator", "/api/v1/transfers/", {"source_wallet": None}, "source_wallet"),
    ("operator", "/api/v1/transfers/", {"amount_btc": "0.1"}, "amount_btc"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "path", "changes", "field"), WRITE_CASES)
def test_bad_transfer_names_the_field(
    clients: dict[str, Any], custody: Custody, role: str, path: str, changes: Any, field: str
) -> None:
    # when
    response = post(clients[role], path, transfer(custody, **changes))
    # then
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "path", "body", "field"),
    [
        ("operator", "/api/v1/wallets/", {"descriptors": ["wpkh(xyz)"]}, "descriptors[0]"),
        ("operator", "/api/v1/wallets/", {"addresses": [MAINNET_ADDRESS]}, "addresses[0]"),
        ("operator", "/api/v1/wallets/", {"gap_limit": 0}, "gap_limit"),
        ("operator", "/api/v1/wallets/", {"agency": "one"}, "agency"),
        ("policy_admin", "/api/v1/policies/", {"rules": [{"type": ["holdings_cap"]}]}, "rules[0].type"),
        (
            "policy_admin",
            "/api/v1/policies/",
            {"rules": [{"type": "holdings_cap", "params": {}}]},
            "rules[0].params.max_sats",
        ),
        ("policy_admin", "/api/v1/policies/", {"rules": [{"type": "moon_cap"}]}, "rules[0].type"),
        ("policy_admin", "/api/v1/policies/", {"scope": {"agency": 999999}}, "scope"),
        ("policy_admin", "/api/v1/policies/", {"scope": {"perimeter": True, "wallet": 1}}, "scope"),
        ("policy_admin", "/api/v1/policies/", {"effective_to": "2025-01-01T00:00:00Z"}, "effective_to"),
        (
            "policy_admin",
            "/api/v1/policies/",
            {"rules": [{"type": "destination_allowlist", "params": {"addresses": ["bcrt1q\u0000"]}}]},
            "rules[0].params.addresses[0]",
        ),
        (
            "policy_admin",
            "/api/v1/policies/",
            {"rules": [{"type": "holdings_cap", "params": {"max_sats": 10**40}}]},
            "rules[0].params.max_sats",
        ),
        ("operator", "/api/v1/wallets/", {"agency": 10**30}, "agency"),
        ("operator", "/api/v1/reserve-proofs/challenges/", {"addresses": [EXTERNAL]}, "addresses[0]"),
        ("operator", "/api/v1/reserve-proofs/challenges/", {"addresses": []}, "addresses"),
        ("operator", "/api/v1/reserve-proofs/", {"challenge": "not-a-uuid", "signatures": []}, "challenge"),
    ],
)
def test_bad_writes_name_the_field(
    clients: dict[str, Any], custody: Custody, role: str, path: str, body: Any, field: str
) -> None:
    # given: a valid request with one field spoiled
    valid = {
        "/api/v1/wallets/": {
            "name": "hot-09",
            "agency": custody.agency.pk,
            "kind": "hot",
            "network": "regtest",
            "addresses": [EXTERNAL],
        },
        "/api/v1/policies/": {
            "name": "cap",
            "scope": {"perimeter": True},
            "effective_from": "2026-01-01T00:00:00Z",
            "rules": [{"type": "holdings_cap", "params": {"max_sats": 1}}],
        },
    }.get(path, {})
    # when
    response = post(clients[role], path, valid | body)
    # then
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()


@pytest.mark.django_db
def test_malformed_json_and_missing_key(clients: dict[str, Any], custody: Custody) -> None:
    # when
    broken = clients["operator"].post(
        "/api/v1/transfers/", b'{"amount_sats": ', content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    keyless = clients["operator"].post("/api/v1/transfers/", transfer(custody), format="json")
    not_an_object = post(clients["operator"], "/api/v1/transfers/", ["amount_sats"])
    # then
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "parse_error"
    assert keyless.status_code == 400
    assert "Idempotency-Key" in keyless.json()["error"]["fields"]
    assert not_an_object.status_code == 400


@pytest.mark.django_db
def test_missing_objects_are_404_in_the_error_shape(clients: dict[str, Any], custody: Custody) -> None:
    # when
    responses = [
        clients["auditor"].get("/api/v1/transfers/999999/"),
        clients["auditor"].get("/api/v1/wallets/abc/"),
        clients["auditor"].get("/api/v1/transfers/?page=99"),
        clients["auditor"].get(f"/api/v1/reserve-proofs/{uuid.uuid4()}/"),
        post(clients["approver"], "/api/v1/transfers/999999/approve/", {}),
    ]
    # then
    for response in responses:
        assert response.status_code == 404, response.content
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_illegal_transitions_are_conflicts(clients: dict[str, Any], users: dict[str, Any], books: Books) -> None:
    # given: the pending transfer is rejected
    path = f"/api/v1/transfers/{books.pending.pk}"
    assert post(clients["approver"], f"{path}/reject/", {"comment": "no order"}).status_code == 200
    # when
    approve = post(clients["approver"], f"{path}/approve/", {})
    cancel = post(clients["operator"], f"{path}/cancel/", {"reason": "late"})
    # then
    assert (approve.status_code, cancel.status_code) == (409, 409)
    assert approve.json()["error"]["fields"] == {"status": ["is rejected"]}


@pytest.mark.django_db
def test_proposer_cannot_approve_own_transfer(clients: dict[str, Any], users: dict[str, Any], books: Books) -> None:
    # given: a user who is operator and approver proposes
    from django.contrib.auth.models import Group

    from tests.reserve.api.conftest import token_client

    both = users["operator"]
    both.groups.add(Group.objects.get(name="approver"))
    client = token_client(both)
    created = post(client, "/api/v1/transfers/", transfer(books))
    assert created.status_code == 201, created.content
    # when
    response = post(client, f"/api/v1/transfers/{created.json()['id']}/approve/", {})
    # then
    assert response.status_code == 403
    assert response.json()["error"]["fields"] == {"approver": ["is the proposer"]}


@pytest.mark.django_db
def test_unknown_endpoints_are_404_in_the_error_shape(clients: dict[str, Any]) -> None:
    # when
    responses = [
        clients["auditor"].get("/api/v1/nothing-here/"),
        clients["anonymous"].post("/api/v1/holdings/extra/", {}, format="json"),
        clients["operator"].delete("/api/v1/transfers/1/approve/x/"),
    ]
    # then
    for response in responses:
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert clients["auditor"].delete("/api/v1/holdings/").status_code == 405
