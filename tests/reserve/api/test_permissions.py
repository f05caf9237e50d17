"""The permission matrix: every endpoint x anonymous, auditor, operator, approver, policy_admin.

Reads are open to every role and closed to anonymous callers (401, not 403); each write is
open to the roles the issue names and refused to the others with 403 before it touches
anything. The roles are tried in the order of the table with the allowed ones last, so a
refused call that changed something would show up in the allowed call's result.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission

from policy.permissions import APPROVE_VERSION, DRAFT_VERSION
from reserve.proofs.models import ReserveProofChallenge
from tests.reserve.api.conftest import EXTERNAL, SIGNING_KEY, Books, token_client
from tests.users import PASSWORD, make_user

ORDER = ("anonymous", "auditor", "approver", "policy_admin", "operator")
READ = {"anonymous": 401, "auditor": 200, "operator": 200, "approver": 200, "policy_admin": 200}


def only(role: str, status: int, *, roles_order: tuple[str, ...] = ORDER) -> dict[str, int]:
    return {name: 401 if name == "anonymous" else (status if name == role else 403) for name in roles_order}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: Callable[[Books], str]
    expected: dict[str, int]
    body: Callable[[Books], dict[str, Any]] | None = None
    order: tuple[str, ...] = ORDER


def challenge_for(books: Books) -> dict[str, Any]:
    challenge = ReserveProofChallenge.objects.order_by("-created_at").first()
    assert challenge is not None
    return {
        "challenge": str(challenge.pk),
        "signatures": [{"address": SIGNING_KEY.p2pkh_address, "signature": SIGNING_KEY.signmessage(challenge.message)}],
    }


def transfer_body(books: Books) -> dict[str, Any]:
    return {
        "direction": "outbound",
        "category": "return_to_victims",
        "amount_sats": 1_000_000,
        "fee_sats": 500,
        "source_wallet": books.cold.pk,
        "external_address": EXTERNAL,
        "provenance_reference": "Order 11",
    }


def pledge(books: Books, *, approved: bool) -> int:
    """A pledge made by the second policy admin (approved by the first, if asked), made once per test."""
    from django.contrib.auth.models import User

    from reserve.compliance.models import Pledge
    from reserve.compliance.pledge_services import pledge_approve, pledge_make

    found = Pledge.objects.filter(approved_at__isnull=not approved).first()
    if found is None:
        found = pledge_make(
            actor=User.objects.get(username="policy_admin-2"),
            kind="collateral",
            wallet=books.cold,
            amount_sats=1_000_000,
            purpose="Bond collateral",
            reference="Order 12",
            dated=date(2026, 6, 1),
        )
        if approved:
            found = pledge_approve(pledge=found, approver=User.objects.get(username="policy_admin-1"))
    return found.pk


PLEDGE_BODY = {
    "kind": "commitment",
    "amount_sats": 1_000_000,
    "purpose": "Held 20 years",
    "reference": "Act 7",
    "dated": "2026-06-01",
}
POLICY_ADMIN_LAST = ("anonymous", "auditor", "operator", "approver", "policy_admin")

ENDPOINTS: dict[str, Endpoint] = {
    "holdings": Endpoint("get", lambda b: "/api/v1/holdings/?group_by=agency", READ),
    "holdings csv": Endpoint("get", lambda b: "/api/v1/holdings/?format=csv", READ),
    "agencies": Endpoint("get", lambda b: "/api/v1/agencies/", READ),
    "agency": Endpoint("get", lambda b: f"/api/v1/agencies/{b.agency.pk}/", READ),
    "agency create": Endpoint(
        "post", lambda b: "/api/v1/agencies/", only("operator", 201), lambda b: {"name": "Central Bank"}
    ),
    "wallets": Endpoint("get", lambda b: "/api/v1/wallets/", READ),
    "wallet": Endpoint("get", lambda b: f"/api/v1/wallets/{b.cold.pk}/", READ),
    "wallet create": Endpoint(
        "post",
        lambda b: "/api/v1/wallets/",
        only("operator", 201),
        lambda b: {
            "name": "hot-04",
            "agency": b.agency.pk,
            "kind": "hot",
            "network": "regtest",
            "addresses": [EXTERNAL],
        },
    ),
    "transfers": Endpoint("get", lambda b: "/api/v1/transfers/", READ),
    "transfer": Endpoint("get", lambda b: f"/api/v1/transfers/{b.pending.pk}/", READ),
    "transfer propose": Endpoint("post", lambda b: "/api/v1/transfers/", only("operator", 201), transfer_body),
    "transfer approve": Endpoint(
        "post",
        lambda b: f"/api/v1/transfers/{b.pending.pk}/approve/",
        only("approver", 200, roles_order=ORDER),
        lambda b: {"comment": "checked"},
        order=("anonymous", "auditor", "operator", "policy_admin", "approver"),
    ),
    "transfer reject": Endpoint(
        "post",
        lambda b: f"/api/v1/transfers/{b.pending.pk}/reject/",
        only("approver", 200),
        lambda b: {"comment": "no court order"},
        order=("anonymous", "auditor", "operator", "policy_admin", "approver"),
    ),
    "transfer cancel": Endpoint(
        "post",
        lambda b: f"/api/v1/transfers/{b.pending.pk}/cancel/",
        only("operator", 200),
        lambda b: {"reason": "duplicate"},
    ),
    "ledger transactions": Endpoint("get", lambda b: "/api/v1/ledger/transactions/", READ),
    "ledger accounts": Endpoint("get", lambda b: "/api/v1/ledger/accounts/?height=102", READ),
    "ledger verify": Endpoint("get", lambda b: "/api/v1/ledger/verify/", READ),
    "policies": Endpoint("get", lambda b: "/api/v1/policies/", READ),
    "policy": Endpoint("get", lambda b: f"/api/v1/policies/{b.draft.pk}/", READ),
    "policy draft": Endpoint(
        "post",
        lambda b: "/api/v1/policies/",
        only("policy_admin", 201),
        lambda b: {
            "name": "cold cap",
            "scope": {"wallet": b.cold.pk},
            "effective_from": "2026-04-01T00:00:00Z",
            "rules": [{"type": "holdings_cap", "params": {"max_sats": 10 * 100_000_000}}],
        },
        order=("anonymous", "auditor", "operator", "approver", "policy_admin"),
    ),
    "policy approve": Endpoint(
        "post",
        lambda b: f"/api/v1/policies/{b.draft.pk}/approve/",
        only("policy_admin", 200),
        lambda b: {},
        order=("anonymous", "auditor", "operator", "approver", "policy_admin"),
    ),
    "policy evaluate": Endpoint(
        "post",
        lambda b: "/api/v1/policies/evaluate/",
        {"anonymous": 401, "auditor": 200, "operator": 200, "approver": 200, "policy_admin": 200},
        transfer_body,
    ),
    "policy evaluations": Endpoint("get", lambda b: "/api/v1/policy-evaluations/", READ),
    "breaches": Endpoint("get", lambda b: "/api/v1/breaches/", READ),
    "compliance": Endpoint(
        "get", lambda b: "/api/v1/compliance/?from=2026-03-01T00:00:00Z&to=2026-03-03T00:00:00Z", READ
    ),
    "reconciliations": Endpoint("get", lambda b: "/api/v1/reconciliations/", READ),
    "discrepancies": Endpoint("get", lambda b: "/api/v1/discrepancies/", READ),
    "audit events": Endpoint("get", lambda b: "/api/v1/audit-events/", READ),
    "import batches": Endpoint("get", lambda b: "/api/v1/imports/", READ),
    "labels": Endpoint("get", lambda b: "/api/v1/labels/", READ),
    "categories": Endpoint("get", lambda b: "/api/v1/categories/", READ),
    "fiat totals": Endpoint("get", lambda b: "/api/v1/fiat-totals/", READ),
    "fiat total record": Endpoint(
        "post",
        lambda b: "/api/v1/fiat-totals/",
        only("policy_admin", 201),
        lambda b: {
            "name": "public_funds",
            "currency": "USD",
            "amount": "1000000.00",
            "as_of": "2026-01-01T00:00:00Z",
            "reference": "Budget act",
        },
        order=POLICY_ADMIN_LAST,
    ),
    "pledges": Endpoint("get", lambda b: "/api/v1/pledges/", READ),
    "pledge": Endpoint("get", lambda b: f"/api/v1/pledges/{pledge(b, approved=False)}/", READ),
    "pledge make": Endpoint(
        "post",
        lambda b: "/api/v1/pledges/",
        only("policy_admin", 201),
        lambda b: PLEDGE_BODY | {"wallet": b.cold.pk},
        order=POLICY_ADMIN_LAST,
    ),
    "pledge approve": Endpoint(
        "post",
        lambda b: f"/api/v1/pledges/{pledge(b, approved=False)}/approve/",
        only("policy_admin", 200),
        lambda b: {},
        order=POLICY_ADMIN_LAST,
    ),
    "pledge release": Endpoint(
        "post",
        lambda b: f"/api/v1/pledges/{pledge(b, approved=True)}/release/",
        only("policy_admin", 200),
        lambda b: {"reference": "Deed of release"},
        order=POLICY_ADMIN_LAST,
    ),
    "proof challenge": Endpoint(
        "post",
        lambda b: "/api/v1/reserve-proofs/challenges/",
        only("operator", 201),
        lambda b: {"addresses": [SIGNING_KEY.p2pkh_address]},
    ),
    "proofs": Endpoint("get", lambda b: "/api/v1/reserve-proofs/", READ),
    "token revoke": Endpoint(
        "post",
        lambda b: "/api/v1/auth/logout/",
        {"anonymous": 401, "auditor": 204, "operator": 204, "approver": 204, "policy_admin": 204},
        lambda b: {},
    ),
}


def call(client: Any, endpoint: Endpoint, books: Books) -> Any:
    path = endpoint.path(books)
    if endpoint.method == "get":
        return client.get(path)
    body = endpoint.body(books) if endpoint.body else {}
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_permission_matrix(name: str, clients: dict[str, Any], books: Books) -> None:
    # given
    endpoint = ENDPOINTS[name]
    # when
    seen = {role: call(clients[role], endpoint, books) for role in endpoint.order}
    # then
    statuses = {role: response.status_code for role, response in seen.items()}
    assert statuses == endpoint.expected, {role: seen[role].content[:300] for role in seen}
    for role, response in seen.items():
        if response.status_code in (401, 403):
            assert response.json()["error"]["code"] in ("not_authenticated", "permission_denied"), role
    assert seen["anonymous"].json()["error"]["code"] == "not_authenticated"
    assert seen["anonymous"].headers["WWW-Authenticate"] == "Token"


def grant(user: Any, *permissions: str) -> Any:
    user.user_permissions.add(
        *(Permission.objects.get(content_type__app_label="policy", codename=name.split(".")[1]) for name in permissions)
    )
    return user


@pytest.mark.django_db
def test_policy_writes_ask_the_permission_the_service_checks_not_the_group(users: dict[str, Any], books: Books) -> None:
    # given: the policy_admin group without policy's permissions, and an account in no group holding them
    Group.objects.get(name="policy_admin").permissions.remove(
        *Permission.objects.filter(content_type__app_label="policy")
    )
    member = token_client(users["policy_admin"])
    holder = token_client(grant(make_user("holder"), DRAFT_VERSION, APPROVE_VERSION))
    body = ENDPOINTS["policy draft"].body(books)  # type: ignore[misc]
    approve = f"/api/v1/policies/{books.draft.pk}/approve/"
    # when
    refused = [member.post("/api/v1/policies/", body, format="json"), member.post(approve, {}, format="json")]
    drafted = holder.post("/api/v1/policies/", body, format="json")
    approved = holder.post(approve, {}, format="json")
    # then
    assert [response.status_code for response in refused] == [403, 403]
    assert "policy.draft_policyversion" in refused[0].json()["error"]["message"]
    assert "policy.approve_policyversion" in refused[1].json()["error"]["message"]
    assert (drafted.status_code, drafted.json()["author"]) == (201, "holder")
    assert approved.status_code == 200, approved.content
    assert [approval["approver"] for approval in approved.json()["approvals"]] == ["holder"]


@pytest.mark.django_db
def test_proof_submission_matrix(clients: dict[str, Any], users: dict[str, Any], books: Books) -> None:
    # given: a challenge for the signing key's address
    issued = clients["operator"].post(
        "/api/v1/reserve-proofs/challenges/", {"addresses": [SIGNING_KEY.p2pkh_address]}, format="json"
    )
    assert issued.status_code == 201, issued.content
    endpoint = Endpoint("post", lambda b: "/api/v1/reserve-proofs/", only("operator", 201), challenge_for)
    # when
    statuses = {role: call(clients[role], endpoint, books).status_code for role in endpoint.order}
    # then
    assert statuses == endpoint.expected
    proof_id = clients["auditor"].get("/api/v1/reserve-proofs/").json()["results"][0]["id"]
    assert {role: clients[role].get(f"/api/v1/reserve-proofs/{proof_id}/").status_code for role in ORDER} == READ


@pytest.mark.django_db
def test_token_endpoint_is_open_to_anyone_with_credentials(users: dict[str, Any]) -> None:
    # given
    from rest_framework.test import APIClient

    client = APIClient()
    # when
    good = client.post("/api/v1/auth/token/", {"username": "auditor-1", "password": PASSWORD}, format="json")
    bad = client.post("/api/v1/auth/token/", {"username": "auditor-1", "password": "wrong"}, format="json")
    # then
    assert good.status_code == 200
    assert good.json()["roles"] == ["auditor"]
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "authentication_failed"
    token = good.json()["token"]
    assert client.get("/api/v1/wallets/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200


@pytest.mark.django_db
def test_user_without_role_is_forbidden_not_unauthenticated(db: None) -> None:
    # given
    from tests.reserve.api.conftest import make_user, token_client

    client = token_client(make_user("nobody"))
    # when
    response = client.get("/api/v1/holdings/")
    # then
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.django_db
def test_token_endpoint_is_throttled(users: dict[str, Any]) -> None:
    # given: the configured rate (10/minute by default)
    from rest_framework.test import APIClient

    client = APIClient()
    body = {"username": "auditor-1", "password": PASSWORD}
    # when
    statuses = [client.post("/api/v1/auth/token/", body, format="json").status_code for _ in range(11)]
    # then
    assert statuses == [200] * 10 + [429]


@pytest.mark.django_db
def test_revoked_and_expired_tokens_are_refused(users: dict[str, Any]) -> None:
    # given
    from datetime import timedelta

    from django.utils import timezone
    from knox.models import AuthToken
    from rest_framework.test import APIClient

    instance, token = AuthToken.objects.create(user=users["auditor"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/agencies/").status_code == 200
    # when: the token is revoked
    assert client.post("/api/v1/auth/logout/").status_code == 204
    revoked = client.get("/api/v1/agencies/")
    _, expired = AuthToken.objects.create(user=users["auditor"], expiry=timedelta(seconds=-1))
    client.credentials(HTTP_AUTHORIZATION=f"Token {expired}")
    # then
    assert revoked.status_code == 401
    assert client.get("/api/v1/agencies/").status_code == 401
    assert instance.expiry is not None and instance.expiry > timezone.now()
    assert AuthToken.objects.filter(user=users["auditor"]).count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/holdings/",
        "/api/v1/holdings/?format=api&group_by=agency",
        "/api/v1/wallets/",
        "/api/v1/transfers/",
        "/api/v1/policies/",
        "/api/v1/labels/?format=api",
        "/api/v1/compliance/?format=api&from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z",
    ],
)
def test_browsable_api_with_a_session(users: dict[str, Any], books: Books, path: str) -> None:
    # given: an auditor logged in with a session (Django's test client enforces CSRF when asked)
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(users["auditor"])
    # when
    page = client.get(path, HTTP_ACCEPT="text/html")
    # then
    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_session_writes_need_csrf(users: dict[str, Any], books: Books) -> None:
    # given
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(users["operator"])
    # when
    response = client.post("/api/v1/agencies/", {"name": "X"}, content_type="application/json")
    # then
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]


@pytest.mark.django_db
def test_docs_and_schema_are_served(db: None) -> None:
    from django.test import Client

    client = Client()
    assert client.get("/api/docs/").status_code == 200
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/auth/login/").status_code == 200


@pytest.mark.django_db
def test_repeated_failed_logins_lock_the_account_in_the_error_shape(users: dict[str, Any]) -> None:
    # given: five failures for one username from one address (django-axes)
    from rest_framework.test import APIClient

    client = APIClient()
    for _ in range(4):
        client.post("/api/v1/auth/token/", {"username": "auditor-1", "password": "wrong"}, format="json")
    # when
    fifth = client.post("/api/v1/auth/token/", {"username": "auditor-1", "password": "wrong"}, format="json")
    right = client.post("/api/v1/auth/token/", {"username": "auditor-1", "password": PASSWORD}, format="json")
    # then: locked, even with the right password, answered as JSON
    for response in (fifth, right):
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "throttled"
        assert "locked" in response.json()["error"]["message"]
