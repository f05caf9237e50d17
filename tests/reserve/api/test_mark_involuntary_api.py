"""POST /api/v1/transfers/{id}/mark-involuntary/ proposes classing an inflow nobody proposed as
dust (or a donation, a fork) with the reason: 201 with the mark, the transfer unchanged. Another
person's POST /api/v1/involuntary-marks/{id}/approve/ classes it (and the holdings report leaves
it out on request); the proposer's own approval is a 403, a second open proposal a 409, the wrong
role a 403, a voluntary category or no reason a 400 naming the field, and nothing changes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from reserve.transfers.models import InvoluntaryMark, Transfer
from reserve.transfers.services import transfer_create
from tests.reserve.api.conftest import Custody, token_client
from tests.reserve.conftest import observed_inflow
from tests.users import make_user

pytestmark = pytest.mark.django_db


def _post(client: Any, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))


def _mark(client: Any, transfer: Transfer, **body: Any) -> Any:
    payload = {"category": "dust", "reason": "546 sats to the published address"} | body
    return _post(client, f"/api/v1/transfers/{transfer.pk}/mark-involuntary/", payload)


def _decide(client: Any, mark_id: int, decision: str = "approve", **body: Any) -> Any:
    return _post(client, f"/api/v1/involuntary-marks/{mark_id}/{decision}/", body)


@pytest.fixture
def seen(custody: Custody) -> Transfer:
    return observed_inflow(custody.cold, amount_sats=546, block_height=104)


def _total(client: Any, **query: str) -> int:
    return int(client.get("/api/v1/holdings/", query).json()["total_sats"])


def _category(transfer: Transfer) -> str:
    return Transfer.objects.get(pk=transfer.pk).category


@pytest.mark.parametrize(
    ("role", "body", "status", "field"),
    [
        ("auditor", {}, 403, None),
        ("approver", {}, 403, None),
        ("operator", {"category": "purchase"}, 400, "category"),
        ("operator", {"category": "no_such_term"}, 400, "category"),
        ("operator", {"category": None}, 400, "category"),
        ("operator", {"reason": " "}, 400, "reason"),
        ("operator", {"reason": ["a", "b"]}, 400, "reason"),
        ("operator", {"surplus": 1}, 400, "surplus"),
    ],
)
def test_a_refused_mark_names_its_field_and_changes_nothing(
    clients: dict[str, Any], seen: Transfer, role: str, body: dict[str, Any], status: int, field: str | None
) -> None:
    response = _mark(clients[role], seen, **body)
    assert response.status_code == status, response.content
    if field is not None:
        assert field in response.json()["error"]["fields"], response.json()
    assert _category(seen) == "other"
    assert not InvoluntaryMark.objects.exists()


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
    assert _category(proposed) == "purchase"


def test_a_proposal_changes_nothing_until_another_person_approves(
    clients: dict[str, Any], users: dict[str, Any], seen: Transfer
) -> None:
    auditor = clients["auditor"]
    assert (_total(auditor), _total(auditor, involuntary="false")) == (546, 546)

    # when: the operator proposes
    proposed = _mark(clients["operator"], seen)

    # then: 201 with the open mark; the transfer and the report as they were; a second proposal is a 409
    assert proposed.status_code == 201, proposed.content
    mark = proposed.json()
    assert (mark["status"], mark["category"], mark["transfer_category"], mark["proposed_by"]) == (
        "proposed",
        "dust",
        "other",
        users["operator"].username,
    )
    assert _total(auditor, involuntary="false") == 546
    again = _mark(clients["operator"], seen, category="donation")
    assert again.status_code == 409 and "transfer" in again.json()["error"]["fields"]

    # when: an approver approves
    approved = _decide(clients["approver"], mark["id"], comment="dust sweep")

    # then: classed, and left out of the report on request
    assert approved.status_code == 200, approved.content
    assert (approved.json()["status"], approved.json()["transfer_category"]) == ("approved", "dust")
    assert (_total(auditor), _total(auditor, involuntary="false"), _total(auditor, involuntary="true")) == (546, 0, 546)
    assert _decide(clients["approver"], mark["id"]).status_code == 409


def test_the_proposer_cannot_approve_their_own_mark(seen: Transfer) -> None:
    both = token_client(make_user("bea", "operator", "approver"))
    mark = _mark(both, seen).json()
    for decision in ("approve", "reject"):
        response = _decide(both, mark["id"], decision, comment="mine")
        assert response.status_code == 403 and "approver" in response.json()["error"]["fields"], response.content
    assert (InvoluntaryMark.objects.get(pk=mark["id"]).status, _category(seen)) == ("proposed", "other")


def test_an_operator_cannot_approve_and_a_rejection_needs_its_reason(clients: dict[str, Any], seen: Transfer) -> None:
    mark = _mark(clients["operator"], seen).json()
    assert _decide(clients["operator"], mark["id"]).status_code == 403
    refused = _decide(clients["approver"], mark["id"], "reject")
    assert refused.status_code == 400 and "comment" in refused.json()["error"]["fields"]
    rejected = _decide(clients["approver"], mark["id"], "reject", comment="a purchase, not a gift")
    assert (rejected.status_code, rejected.json()["status"], _category(seen)) == (200, "rejected", "other")


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/transfers/99999999999999999999/mark-involuntary/",
        "/api/v1/transfers/0/mark-involuntary/",
        "/api/v1/involuntary-marks/99999999999999999999/approve/",
        "/api/v1/involuntary-marks/0/reject/",
    ],
)
def test_an_unknown_or_overflowing_id_is_a_404_in_the_error_shape(clients: dict[str, Any], url: str) -> None:
    role = "operator" if "mark-involuntary" in url else "approver"
    response = _post(
        clients[role], url, {"category": "dust", "reason": "x"} if role == "operator" else {"comment": "x"}
    )
    assert response.status_code == 404 and "error" in response.json()


def test_the_schema_describes_the_proposal_and_the_decisions() -> None:
    paths = APIClient().get("/api/schema/?format=json").json()["paths"]
    assert "201" in paths["/api/v1/transfers/{id}/mark-involuntary/"]["post"]["responses"]
    for decision in ("approve", "reject"):
        assert "200" in paths[f"/api/v1/involuntary-marks/{{id}}/{decision}/"]["post"]["responses"]
    assert "200" in paths["/api/v1/involuntary-marks/"]["get"]["responses"]


def test_every_role_lists_the_marks_and_approvers_find_the_open_ones(clients: dict[str, Any], seen: Transfer) -> None:
    mark = _mark(clients["operator"], seen).json()
    listed = clients["auditor"].get("/api/v1/involuntary-marks/", {"status": "proposed"})
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [mark["id"]]
    _decide(clients["approver"], mark["id"])
    assert clients["auditor"].get("/api/v1/involuntary-marks/", {"status": "proposed"}).json()["results"] == []
    one = clients["auditor"].get(f"/api/v1/involuntary-marks/{mark['id']}/").json()
    assert (one["status"], one["transfer_category"]) == ("approved", "dust")
    refused = clients["auditor"].get("/api/v1/involuntary-marks/", {"status": "maybe"})
    assert refused.status_code == 400 and "status" in refused.json()["error"]["fields"]
    assert clients["anonymous"].get("/api/v1/involuntary-marks/").status_code == 401
