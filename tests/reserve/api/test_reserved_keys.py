"""Way 5 of issue 11 at the API: a client cannot take a key in the namespace the services key their
own records by (an observed chain movement's `observed:<txid>:...`, a posting's `reserve:...`, an
import row's `import:...`), and two racing requests with one key and two payloads give one
transfer and one 409."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from ledger.idempotency import RESERVED_PREFIXES
from ledger.models import JournalTransaction
from reserve.api.models import ApiIdempotencyKey
from reserve.custody.services import agency_create, wallet_register
from reserve.transfers.models import Transfer
from tests.reserve.api.conftest import EXTERNAL, TPUB_A, Books, make_user, token_client

TXID = "cd" * 32
SQUATS = [f"observed:{TXID}:0", f"observed:{TXID}:0:inbound::1", *RESERVED_PREFIXES, "OBSERVED:" + TXID]


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
@pytest.mark.parametrize("key", SQUATS)
def test_a_reserved_key_is_a_400_naming_the_header_and_stores_nothing(
    clients: dict[str, Any], books: Books, key: str
) -> None:
    # given
    transfers, keys, journals = (
        Transfer.objects.count(),
        ApiIdempotencyKey.objects.count(),
        JournalTransaction.objects.count(),
    )
    # when: a transfer and a transition, each under a squatting key
    created = clients["operator"].post("/api/v1/transfers/", outbound(books), format="json", HTTP_IDEMPOTENCY_KEY=key)
    cancelled = clients["operator"].post(
        f"/api/v1/transfers/{books.pending.pk}/cancel/", {"reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    # then
    for response in (created, cancelled):
        assert response.status_code == 400
        assert list(response.json()["error"]["fields"]) == ["Idempotency-Key"]
    assert Transfer.objects.count() == transfers
    assert ApiIdempotencyKey.objects.count() == keys
    assert JournalTransaction.objects.count() == journals
    books.pending.refresh_from_db()
    assert books.pending.status == "pending_approval"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_racing_requests_with_one_key_and_two_payloads_give_one_transfer_and_a_409() -> None:
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
    bodies = [
        {"direction": "inbound", "category": "forfeiture", "amount_sats": amount, "destination_wallet": wallet.pk}
        for amount in (7_000, 8_000)
    ]
    clients = [token_client(operator) for _ in bodies]
    barrier = threading.Barrier(len(bodies))
    responses: list[Any] = [None] * len(bodies)

    def race(index: int) -> None:
        try:
            barrier.wait()
            responses[index] = clients[index].post(
                "/api/v1/transfers/", bodies[index], format="json", HTTP_IDEMPOTENCY_KEY="same-key"
            )
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=race, args=(index,)) for index in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then: one won; the other is told the key is taken, and stored nothing
    assert sorted(response.status_code for response in responses) == [201, 409]
    [winner] = [response for response in responses if response.status_code == 201]
    [loser] = [response for response in responses if response.status_code == 409]
    assert loser.json()["error"]["fields"] == {"Idempotency-Key": ["already used with a different request"]}
    assert list(Transfer.objects.values_list("amount_sats", flat=True)) == [winner.json()["amount_sats"]]
    assert ApiIdempotencyKey.objects.filter(key="same-key").count() == 1
