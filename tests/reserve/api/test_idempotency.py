"""Idempotency-Key on API writes: a replay returns the first response and posts nothing new, another
payload under the same key is a 409, and racing replays produce exactly one transfer."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from ledger.idempotency import request_hash
from reserve.api.models import ApiIdempotencyKey
from reserve.custody.services import agency_create, wallet_register
from reserve.transfers.models import Approval, Transfer
from tests.reserve.api.conftest import EXTERNAL, TPUB_A, Books, make_user, token_client

RACERS = 8


def propose(client: Any, body: dict[str, Any], key: str) -> Any:
    return client.post("/api/v1/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def outbound(books: Books, amount_sats: int = 1_000_000) -> dict[str, Any]:
    return {
        "direction": "outbound",
        "category": "return_to_victims",
        "amount_sats": amount_sats,
        "source_wallet": books.cold.pk,
        "external_address": EXTERNAL,
        "provenance_reference": "Order 11",
    }


@pytest.mark.django_db
def test_replay_returns_the_first_response_and_creates_nothing(clients: dict[str, Any], books: Books) -> None:
    # given
    before = Transfer.objects.count()
    first = propose(clients["operator"], outbound(books), "key-1")
    # when
    again = propose(clients["operator"], outbound(books), "key-1")
    # then
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Transfer.objects.count() == before + 1


@pytest.mark.django_db
def test_same_key_with_another_payload_is_a_conflict(clients: dict[str, Any], books: Books) -> None:
    # given
    assert propose(clients["operator"], outbound(books), "key-2").status_code == 201
    before = Transfer.objects.count()
    # when
    other = propose(clients["operator"], outbound(books, amount_sats=2_000_000), "key-2")
    elsewhere = clients["operator"].post(
        f"/api/v1/transfers/{books.pending.pk}/cancel/", {"reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="key-2"
    )
    # then
    assert other.status_code == elsewhere.status_code == 409
    assert other.json()["error"]["fields"] == {"Idempotency-Key": ["already used with a different request"]}
    assert Transfer.objects.count() == before


@pytest.mark.django_db
def test_the_stored_hash_is_the_ledgers_request_hash_of_method_path_and_body(
    clients: dict[str, Any], books: Books
) -> None:
    # given a body with text JSON would otherwise escape
    body = outbound(books) | {"memo": "Rückgabe an Geschädigte"}
    # when
    first = propose(clients["operator"], body, "key-hash")
    again = propose(clients["operator"], body, "key-hash")
    # then: a local recipe drifting from ledger.idempotency would store something else
    stored = ApiIdempotencyKey.objects.get(key="key-hash")
    assert stored.request_hash == request_hash({"method": "POST", "path": "/api/v1/transfers/", "body": body})
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_keys_belong_to_their_user(clients: dict[str, Any], users: dict[str, Any], books: Books) -> None:
    # given: another operator uses the same key for a different transfer
    other = token_client(make_user("operator-2", "operator"))
    assert propose(clients["operator"], outbound(books), "shared").status_code == 201
    # when
    response = propose(other, outbound(books, amount_sats=3_000_000), "shared")
    # then
    assert response.status_code == 201
    assert response.json()["amount_sats"] == 3_000_000


@pytest.mark.django_db
def test_approval_replay_does_not_approve_twice(clients: dict[str, Any], books: Books) -> None:
    # given
    path = f"/api/v1/transfers/{books.pending.pk}/approve/"
    first = clients["approver"].post(path, {"comment": "ok"}, format="json", HTTP_IDEMPOTENCY_KEY="approve-1")
    # when
    again = clients["approver"].post(path, {"comment": "ok"}, format="json", HTTP_IDEMPOTENCY_KEY="approve-1")
    fresh_key = clients["approver"].post(path, {"comment": "ok"}, format="json", HTTP_IDEMPOTENCY_KEY="approve-2")
    # then: the replay is the first answer; a new key is a second decision, which the service refuses
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert fresh_key.status_code == 409
    assert Approval.objects.filter(transfer=books.pending).count() == 1


@pytest.mark.django_db
def test_a_failed_write_stores_nothing_and_may_be_retried(clients: dict[str, Any], books: Books) -> None:
    # given: the first attempt fails validation
    bad = propose(clients["operator"], outbound(books) | {"external_address": "nonsense"}, "key-3")
    assert bad.status_code == 400
    # when: the client fixes the request and retries with the same key
    good = propose(clients["operator"], outbound(books), "key-3")
    # then
    assert good.status_code == 201
    assert ApiIdempotencyKey.objects.filter(key="key-3").count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_racing_replays_create_one_transfer() -> None:
    # given
    operator = make_user("racer", "operator")
    agency = agency_create(name="Treasury", kind="ministry", actor=operator)
    wallet = wallet_register(
        name="cold-01",
        agency=agency,
        kind="cold",
        network="regtest",
        gap_limit=1,
        descriptors=[f"wpkh([73c5da0a/84h/1h/0h]{TPUB_A}/<0;1>/*)"],
        actor=operator,
    )
    body = {"direction": "inbound", "category": "forfeiture", "amount_sats": 7_000, "destination_wallet": wallet.pk}
    clients = [token_client(operator) for _ in range(RACERS)]
    barrier = threading.Barrier(RACERS)
    responses: list[Any] = [None] * RACERS

    def race(index: int) -> None:
        try:
            barrier.wait()
            responses[index] = propose(clients[index], body, "race-key")
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=race, args=(index,)) for index in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then
    assert {response.status_code for response in responses} == {201}
    assert len({response.json()["id"] for response in responses}) == 1
    assert Transfer.objects.filter(amount_sats=7_000).count() == 1
    assert sum(response.get("Idempotent-Replayed") == "true" for response in responses) == RACERS - 1
