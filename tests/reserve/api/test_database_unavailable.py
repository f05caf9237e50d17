"""A request that meets a dropped database connection gets 503 with Retry-After, never a 500, and
the retry with the same idempotency key succeeds exactly once (issue 12). The connection is
really dropped: its PostgreSQL backend is terminated from another session."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from reserve.custody.models import Wallet
from reserve.transfers.models import Transfer
from tests.owner import another_session

pytestmark = pytest.mark.django_db(transaction=True)


def drop_the_connection() -> None:
    """Terminate this process's database session, as a server restart would."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    with another_session(autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_the_api_answers_503_and_the_retry_succeeds_once(operator: Any, cold_wallet: Wallet) -> None:
    # given
    client = APIClient()
    client.force_authenticate(operator)
    body = {
        "direction": "inbound",
        "category": "forfeiture",
        "amount_sats": 50_000,
        "destination_wallet": cold_wallet.pk,
        "provenance_reference": "Order 12",
    }
    drop_the_connection()
    # when
    refused = client.post("/api/v1/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY="restart-1")
    # then
    assert refused.status_code == 503, refused.content
    assert refused["Retry-After"] == "5"
    assert refused.json()["error"]["code"] == "database_unavailable"
    # when: the client retries with the same key, twice
    first = client.post("/api/v1/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY="restart-1")
    again = client.post("/api/v1/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY="restart-1")
    # then: one transfer, the second answer a replay of the first
    assert first.status_code == 201, first.content
    assert (again.status_code, again["Idempotent-Replayed"]) == (201, "true")
    assert again.json()["id"] == first.json()["id"]
    assert Transfer.objects.filter(provenance_reference="Order 12").count() == 1


def test_the_admin_answers_503_when_the_connection_drops_in_middleware(operator: Any) -> None:
    # given: a signed-in session; the session and user are read in middleware, before any view
    client = Client(raise_request_exception=False)
    client.force_login(operator)
    drop_the_connection()
    # when
    refused = client.get("/admin/")
    # then
    assert refused.status_code == 503
    assert refused["Retry-After"] == "5"
    assert "database is unavailable" in refused.content.decode()
    # ...and the next request reconnects
    assert client.get("/admin/").status_code == 200
