"""Lists filter by date range, wallet, agency, category and status, each on its own records."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.reserve.api.conftest import Books, block_time


def results(client: Any, path: str, **query: Any) -> list[dict[str, Any]]:
    response = client.get(path, query)
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.mark.django_db
def test_transfer_register_filters(clients: dict[str, Any], books: Books) -> None:
    client = clients["auditor"]
    forfeit, buy, consolidate, _ = books.transfers
    # when / then
    assert {t["id"] for t in results(client, "/api/v1/transfers/", wallet=books.cold.pk)} == {
        forfeit.pk,
        consolidate.pk,
    }
    assert [t["id"] for t in results(client, "/api/v1/transfers/", category="purchase")] == [buy.pk]
    assert [t["id"] for t in results(client, "/api/v1/transfers/", status="pending_approval")] == [books.pending.pk]
    window = {"from": block_time(102).isoformat(), "to": block_time(104).isoformat()}
    assert {t["id"] for t in results(client, "/api/v1/transfers/", **window)} == {buy.pk, consolidate.pk}
    assert len(results(client, "/api/v1/transfers/", agency=books.agency.pk)) == 5


@pytest.mark.django_db
def test_a_date_window_keeps_a_pending_proposal_by_the_time_it_was_drafted(
    clients: dict[str, Any], books: Books
) -> None:
    client = clients["auditor"]
    drafted = books.pending.created_at
    assert books.pending.occurred_at is None
    # when: windows around and before the proposal's drafting
    around = {"from": (drafted - timedelta(seconds=1)).isoformat(), "to": (drafted + timedelta(seconds=1)).isoformat()}
    before = {"from": block_time(100).isoformat(), "to": drafted.isoformat()}
    # then: in the window it was made in, only there; the posted ones stay dated by their blocks
    assert [t["id"] for t in results(client, "/api/v1/transfers/", **around)] == [books.pending.pk]
    assert books.pending.pk not in {t["id"] for t in results(client, "/api/v1/transfers/", **before)}
    assert len(results(client, "/api/v1/transfers/", **before, agency=books.agency.pk)) == 4


@pytest.mark.django_db
def test_journal_filters(clients: dict[str, Any], books: Books) -> None:
    client = clients["auditor"]
    forfeit = books.transfers[0]
    # when
    on_vault = results(client, "/api/v1/ledger/transactions/", wallet=books.vault.pk)
    forfeitures = results(client, "/api/v1/ledger/transactions/", category="forfeiture")
    above = results(client, "/api/v1/ledger/transactions/", min_height=103)
    # then
    assert [t["block_height"] for t in on_vault] == [102, 103]
    assert [t["id"] for t in forfeitures] == [str(forfeit.journal_transaction_id)]
    assert [t["block_height"] for t in above] == [103, 104]


@pytest.mark.django_db
def test_evaluation_and_audit_filters(clients: dict[str, Any], books: Books) -> None:
    client = clients["auditor"]
    mined = books.transfers[3]
    # when
    evaluations = results(client, "/api/v1/policy-evaluations/", wallet=books.signer.pk)
    mining = results(client, "/api/v1/policy-evaluations/", category="mining_reward", gate="posting")
    events = results(client, "/api/v1/audit-events/", wallet=books.signer.pk)
    # then
    assert evaluations and {e["subject_id"] for e in evaluations} == {str(mined.pk)}
    assert [e["subject_id"] for e in mining] == [str(mined.pk)]
    assert {(e["object_type"], e["object_id"]) for e in events} == {
        ("reserve.wallet", str(books.signer.pk)),
        ("reserve.transfer", str(mined.pk)),
    }
    assert results(client, "/api/v1/breaches/", wallet=books.cold.pk, status="open") == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/v1/transfers/", "/api/v1/ledger/transactions/", "/api/v1/audit-events/", "/api/v1/wallets/"]
)
def test_lists_take_wallet_and_agency_names_as_ids(clients: dict[str, Any], books: Books, path: str) -> None:
    client = clients["auditor"]
    for field, record in (("wallet", books.cold), ("agency", books.agency)):
        # when / then: the name finds what the id finds
        by_id = results(client, path, **{field: record.pk})
        assert by_id and results(client, path, **{field: record.name}) == by_id, (path, field)
        # an unknown name (a NUL, one longer than any name) is a 400 naming the field, not an empty page
        for unknown in ("no such name", "nul\x00", "x" * 300):
            response = client.get(path, {field: unknown})
            assert response.status_code == 400, response.content
            assert field in response.json()["error"]["fields"]


def without_now(response: Any) -> Any:
    """The report without its `as_of`, which for "now" is the moment of each call."""
    if response["Content-Type"].split(";")[0] == "application/json":
        return {key: value for key, value in response.json().items() if key != "as_of"}
    return response.content


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/holdings/", "/api/v1/labels/"])
def test_reports_take_wallet_and_agency_names_as_ids(clients: dict[str, Any], books: Books, path: str) -> None:
    client = clients["auditor"]
    for field, record in (("wallet", books.cold), ("agency", books.agency)):
        by_name, by_id = (client.get(path, {field: value}) for value in (record.name, record.pk))
        assert by_name.status_code == by_id.status_code == 200, by_name.content
        assert without_now(by_name) == without_now(by_id)
        for unknown in ("no such name", "nul\x00", "x" * 300):
            response = client.get(path, {field: unknown})
            assert (response.status_code, field in response.json()["error"]["fields"]) == (400, True)
