"""The transparency log over REST: heads, proofs and the public key, for every role, and anonymous when published."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from ledger.log import merkle
from ledger.log.heads import TreeHead
from ledger.log.sealer import seal_log
from ledger.models import JournalTransaction
from ledger.services import reverse_transaction
from ledger.signing import signing_key
from tests.reserve.api.conftest import Books

pytestmark = pytest.mark.django_db


def _bytes(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(value) for value in values]


def test_heads_and_proofs_verify_with_the_published_key(clients: dict[str, APIClient], books: Books) -> None:
    # given the books sealed, then one more posting sealed
    seal_log()
    journal = list(JournalTransaction.objects.order_by("sequence"))
    api = clients["auditor"]
    first = api.get("/api/v1/log/heads/latest/").json()
    key = api.get("/api/v1/log/public-key/").json()
    assert key["public_key"] == signing_key().public_hex
    # then the head is signed by that key and every transaction's inclusion proof verifies against it
    assert TreeHead(**first).valid_for(bytes.fromhex(key["public_key"]))
    assert first["tree_size"] == len(journal)
    for index, transaction in enumerate(journal):
        proof = api.get(f"/api/v1/log/inclusion/{transaction.pk}/").json()
        assert proof["leaf_index"] == index
        assert merkle.inclusion_valid(
            index=index,
            size=first["tree_size"],
            leaf=merkle.leaf_hash(bytes.fromhex(transaction.hash)),
            path=_bytes(proof["path"]),
            root=bytes.fromhex(first["root_hash"]),
        )
    # and a later head is consistent with the one kept
    reverse_transaction(transaction=journal[-1], idempotency_key=f"reverse-{uuid.uuid4()}")
    seal_log()
    second = api.get("/api/v1/log/heads/latest/").json()
    proof = api.get(f"/api/v1/log/consistency/?first={first['tree_size']}").json()
    assert proof["second"] == second
    assert merkle.consistency_valid(
        first_size=first["tree_size"],
        second_size=second["tree_size"],
        first_root=bytes.fromhex(first["root_hash"]),
        second_root=bytes.fromhex(second["root_hash"]),
        path=_bytes(proof["path"]),
    )
    assert api.get(f"/api/v1/log/heads/{first['tree_size']}/").json() == first


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/api/v1/log/consistency/", 400, "first"),
        ("/api/v1/log/consistency/?first=x", 400, "first"),
        ("/api/v1/log/consistency/?first=99999999999999999999", 400, "first"),
        ("/api/v1/log/consistency/?first=1&bogus=2", 400, "bogus"),
        ("/api/v1/log/consistency/?first=12345", 404, "first"),
        ("/api/v1/log/heads/99999999999999999999/", 404, "tree_size"),
        ("/api/v1/log/heads/12345/", 404, "tree_size"),
        (f"/api/v1/log/inclusion/{uuid.UUID(int=1)}/", 404, "transaction"),
        ("/api/v1/log/inclusion/00000000-0000-0000-0000-000000000001/?tree_size=-1", 400, "tree_size"),
    ],
)
def test_bad_requests_name_the_field(clients: dict[str, APIClient], books: Books, path: str, status: int, field: str):
    seal_log()
    response = clients["auditor"].get(path)
    assert response.status_code == status, response.content
    assert field in response.json()["error"]["fields"]


def test_an_unsealed_transaction_is_not_found_yet(clients: dict[str, APIClient], books: Books) -> None:
    transaction = JournalTransaction.objects.order_by("sequence").first()
    assert transaction is not None
    body: dict[str, Any] = clients["auditor"].get(f"/api/v1/log/inclusion/{transaction.pk}/").json()
    assert body["error"]["fields"] == {"transaction": ["not sealed yet"]}


def test_anonymous_only_when_the_log_is_published(books: Books) -> None:
    seal_log()
    anonymous = APIClient()
    assert anonymous.get("/api/v1/log/heads/latest/").status_code == 401
    with override_settings(LEDGER_LOG_PUBLIC=True):
        assert anonymous.get("/api/v1/log/heads/latest/").status_code == 200
        assert anonymous.get("/api/v1/log/public-key/").status_code == 200
        # published means readable, never writable
        assert anonymous.post("/api/v1/log/heads/latest/", {}, format="json").status_code in (401, 405)
