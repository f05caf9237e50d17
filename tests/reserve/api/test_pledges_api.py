"""/api/v1/pledges/: a policy administrator makes a pledge, another approves it and it is released
once, through the services; the maker, an operator and an approver cannot approve it; bad input
is a 400 naming the field (an illegal transition a 409 naming `pledge`) and stores nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.utils import timezone

from policy.services import policy_approve, policy_create_draft
from policy.types import PolicyScope
from reserve.audit.models import AuditEvent
from reserve.compliance.models import FiatTotal, Pledge
from tests.reserve.api.conftest import BTC, Custody, token_client
from tests.users import make_user

pytestmark = pytest.mark.django_db


def post(client: Any, path: str, body: Any) -> Any:
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))


def pledge_body(custody: Custody, **changes: Any) -> dict[str, Any]:
    body = {
        "kind": "collateral",
        "wallet": custody.cold.pk,
        "amount_sats": 2 * BTC,
        "purpose": "Collateral for the hydropower bond",
        "reference": "Cabinet order 2026/14",
        "dated": "2026-06-01",
    }
    return body | changes


def test_made_approved_by_another_and_released_once(
    clients: dict[str, Any], users: dict[str, Any], custody: Custody
) -> None:
    # given: a pledge made by one policy administrator
    made = post(clients["policy_admin"], "/api/v1/pledges/", pledge_body(custody))
    assert made.status_code == 201, made.content
    pledge = made.json()
    assert (pledge["status"], pledge["made_by"], pledge["amount_btc"]) == ("made", "policy_admin-1", "2.00000000")
    path = f"/api/v1/pledges/{pledge['id']}/"
    checker = token_client(users["policy_admin2"])

    # when: the maker, an operator and an approver try to approve it, then a second policy admin does
    own = post(clients["policy_admin"], f"{path}approve/", {})
    operator = post(clients["operator"], f"{path}approve/", {})
    approver = post(clients["approver"], f"{path}approve/", {})
    assert Pledge.objects.get().approved_at is None
    approved = post(checker, f"{path}approve/", {})
    again = post(checker, f"{path}approve/", {})
    released = post(clients["policy_admin"], f"{path}release/", {"reference": "Bond repaid, deed 2027/2"})
    released_again = post(checker, f"{path}release/", {"reference": "again"})

    # then
    assert own.status_code == 403
    assert "proposer of a pledge can never approve it" in own.json()["error"]["message"]
    for refused in (operator, approver):
        assert refused.status_code == 403
        assert "policy.draft_policyversion" in refused.json()["error"]["message"]
    assert (approved.status_code, approved.json()["status"], approved.json()["approved_by"]) == (
        200,
        "active",
        "policy_admin-2",
    )
    assert (again.status_code, again.json()["error"]["fields"]) == (409, {"pledge": ["is approved already"]})
    assert released.status_code == 200, released.content
    assert (released.json()["status"], released.json()["release_reference"]) == ("released", "Bond repaid, deed 2027/2")
    assert (released_again.status_code, released_again.json()["error"]["fields"]) == (
        409,
        {"pledge": ["is released already"]},
    )
    assert clients["auditor"].get(path).json()["released_by"] == "policy_admin-1"
    assert sorted(AuditEvent.objects.filter(action__startswith="pledge.").values_list("action", flat=True)) == [
        "pledge.approve",
        "pledge.make",
        "pledge.release",
    ]


def test_every_role_reads_and_filters_by_wallet_kind_and_status(
    clients: dict[str, Any], users: dict[str, Any], custody: Custody
) -> None:
    # given: a made collateral on cold, an active commitment on vault, a liability of the whole reserve
    maker, checker = clients["policy_admin"], token_client(users["policy_admin2"])
    post(maker, "/api/v1/pledges/", pledge_body(custody))
    commitment = post(maker, "/api/v1/pledges/", pledge_body(custody, kind="commitment", wallet=custody.vault.pk))
    post(checker, f"/api/v1/pledges/{commitment.json()['id']}/approve/", {})
    liability = post(maker, "/api/v1/pledges/", pledge_body(custody, kind="liability", wallet=None))
    assert liability.status_code == 201, liability.content

    def kinds(query: dict[str, str]) -> list[str]:
        response = clients["auditor"].get("/api/v1/pledges/", query)
        assert response.status_code == 200, response.content
        return sorted(row["kind"] for row in response.json()["results"])

    # then
    assert kinds({}) == ["collateral", "commitment", "liability"]
    assert kinds({"status": "active"}) == ["commitment"]
    assert kinds({"status": "made"}) == ["collateral", "liability"]
    assert kinds({"status": "released"}) == []
    assert kinds({"wallet": "vault-02"}) == ["commitment"]
    assert kinds({"kind": "liability"}) == ["liability"]
    bad = clients["auditor"].get("/api/v1/pledges/", {"status": "pending"})
    assert (bad.status_code, list(bad.json()["error"]["fields"])) == (400, ["status"])
    csv = clients["auditor"].get("/api/v1/pledges/", {"format": "csv"})
    assert csv["Content-Type"].startswith("text/csv") and b"Cabinet order 2026/14" in csv.content


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount_sats": "two"}, "amount_sats"),
        ({"amount_sats": "200000000"}, "amount_sats"),
        ({"amount_sats": 1.5}, "amount_sats"),
        ({"amount_sats": 0}, "amount_sats"),
        ({"amount_sats": 21_000_000 * BTC + 1}, "amount_sats"),
        ({"wallet": 999_999}, "wallet"),
        ({"wallet": None}, "wallet"),
        ({"kind": "loan"}, "kind"),
        ({"reference": "  "}, "reference"),
        ({"dated": "June"}, "dated"),
        ({"approved_by": 1}, "approved_by"),
    ],
)
def test_a_bad_pledge_is_a_400_naming_the_field_and_stores_nothing(
    clients: dict[str, Any], custody: Custody, changes: dict[str, Any], field: str
) -> None:
    response = post(clients["policy_admin"], "/api/v1/pledges/", pledge_body(custody, **changes))

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not Pledge.objects.exists()


def test_a_release_of_an_unapproved_pledge_and_writes_beside_the_services_are_refused(
    clients: dict[str, Any], custody: Custody
) -> None:
    # given
    made = post(clients["policy_admin"], "/api/v1/pledges/", pledge_body(custody)).json()
    path = f"/api/v1/pledges/{made['id']}/"
    admin = clients["policy_admin"]

    # when
    early = post(admin, f"{path}release/", {"reference": "Release deed"})
    unnamed = post(admin, f"{path}release/", {})
    crafted = post(admin, f"{path}approve/", {"approved_by": made["id"]})
    edits = [admin.patch(path, {"amount_sats": 1}, format="json"), admin.delete(path), admin.put(path, {})]
    missing = post(admin, "/api/v1/pledges/999999/approve/", {})

    # then
    assert (early.status_code, early.json()["error"]["fields"]) == (409, {"pledge": ["is not approved"]})
    assert (unnamed.status_code, list(unnamed.json()["error"]["fields"])) == (400, ["reference"])
    assert (crafted.status_code, list(crafted.json()["error"]["fields"])) == (400, ["approved_by"])
    assert [response.status_code for response in edits] == [405, 405, 405]
    assert missing.status_code == 404
    pledge = Pledge.objects.get()
    assert (pledge.amount_sats, pledge.approved_at, pledge.released_at) == (2 * BTC, None, None)


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/api/v1/pledges/", ["not", "an", "object"], 400),
        ("post", "/api/v1/pledges/", {"purpose": "bond\x00"}, 400),
        ("post", "/api/v1/pledges/", {"dated": "99999-01-01"}, 400),
        ("post", "/api/v1/pledges/99999999999999999999/approve/", {}, 404),
        ("post", "/api/v1/pledges/99999999999999999999/release/", {"reference": "x"}, 404),
        ("get", "/api/v1/pledges/99999999999999999999/", None, 404),
        ("get", "/api/v1/fiat-totals/99999999999999999999/", None, 404),
        ("get", "/api/v1/pledges/?wallet=99999999999999999999", None, 200),
    ],
)
def test_crafted_requests_get_a_4xx_in_the_error_shape_never_a_500(
    clients: dict[str, Any], custody: Custody, method: str, path: str, body: Any, status: int
) -> None:
    client = clients["policy_admin"]
    if method == "get":
        response = client.get(path)
    else:
        payload = pledge_body(custody) | body if isinstance(body, dict) and path == "/api/v1/pledges/" else body
        response = post(client, path, payload)

    assert response.status_code == status, response.content
    if status >= 400:
        assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert not Pledge.objects.exists()


def test_a_page_of_pledges_and_of_fiat_totals_takes_constant_queries(
    clients: dict[str, Any], users: dict[str, Any], custody: Custody, django_assert_max_num_queries: Any
) -> None:
    # given: 120 records of each, made by different people, some approved
    makers = [users["policy_admin"], users["policy_admin2"]]
    now = timezone.now()
    Pledge.objects.bulk_create(
        Pledge(
            kind="commitment",
            wallet=[custody.cold, custody.vault][index % 2],
            amount_sats=BTC + index,
            purpose="p",
            reference=f"r{index}",
            dated=date(2026, 1, 1),
            made_by=makers[index % 2],
            approved_by=makers[(index + 1) % 2] if index % 3 else None,
            approved_at=now if index % 3 else None,
        )
        for index in range(120)
    )
    FiatTotal.objects.bulk_create(
        FiatTotal(
            name=f"total_{index}",
            currency="USD",
            amount=1_000 + index,
            as_of=datetime(2026, 1, 1, tzinfo=UTC),
            reference="r",
            recorded_by=makers[index % 2],
        )
        for index in range(120)
    )
    for path in ("/api/v1/pledges/", "/api/v1/fiat-totals/"):
        # when: authentication (token, user), roles, count, page
        with django_assert_max_num_queries(6):
            response = clients["auditor"].get(path)
        # then
        assert (response.status_code, len(response.json()["results"])) == (200, 100), path


def test_an_approval_over_the_encumbrance_cap_is_refused_with_the_rules_reason(
    clients: dict[str, Any], users: dict[str, Any], custody: Custody
) -> None:
    # given: a cap of 1 BTC pledged from the cold wallet, approved by the two other policy admins
    third = make_user("policy_admin-3", "policy_admin")
    draft = policy_create_draft(
        name="Pledge ceiling",
        scope=PolicyScope("wallet", custody.cold.pk),
        rules=[{"type": "encumbrance_cap", "params": {"max_sats": BTC}}],
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
        author=third,
    )
    policy_approve(version=draft, approver=users["policy_admin"])
    policy_approve(version=draft, approver=users["policy_admin2"])
    made = post(clients["policy_admin"], "/api/v1/pledges/", pledge_body(custody, amount_sats=BTC + 1)).json()

    # when
    refused = post(token_client(users["policy_admin2"]), f"/api/v1/pledges/{made['id']}/approve/", {})

    # then
    assert refused.status_code == 403, refused.content
    assert "Pledge ceiling" in refused.json()["error"]["message"]
    assert refused.json()["error"]["fields"]["pledge"]
    assert Pledge.objects.get().approved_at is None
