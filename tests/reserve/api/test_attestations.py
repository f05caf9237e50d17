"""Period attestations over the API: an operator makes one for a range of verified blocks and it is
kept as made; every role reads it, with the signed document the verifier checks; other roles cannot
make one; bad heights are refused naming the field; raw SQL as the service's role cannot edit or
delete one."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import ProgrammingError, connection, transaction

from ledger.signing import signing_key
from reserve.proofs.models import PeriodAttestation
from reserve.proofs.statements import statement_bytes
from tests.reserve.api.conftest import Books

ATTESTATIONS = "/api/v1/period-attestations/"

pytestmark = pytest.mark.django_db


def test_an_operator_makes_an_attestation_every_role_reads_it(clients: dict[str, Any], books: Books) -> None:
    # when
    made = clients["operator"].post(ATTESTATIONS, {"from_height": 100, "to_height": 104}, format="json")
    # then: signed by the service key, the figures of the perimeter's books
    assert made.status_code == 201, made.content
    body = made.json()
    statement, signature = body["document"]["statement"], body["document"]["signature"]
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(signing_key().public_hex)).verify(
        bytes.fromhex(signature), statement_bytes(statement)
    )
    assert statement["format"] == "reserve-ledger/period-attestation/1"
    assert statement["period"] == {"from_height": 100, "to_height": 104}
    assert (body["verdict"], body["net_accumulation_sats"]) == (
        statement["verdict"],
        statement["net_accumulation_sats"],
    )
    assert body["created_by"] == "operator-1"
    # and an auditor lists and reads the same document
    listed = clients["auditor"].get(ATTESTATIONS)
    read = clients["auditor"].get(f"{ATTESTATIONS}{body['id']}/")
    assert listed.status_code == 200 and [row["id"] for row in listed.json()["results"]] == [body["id"]]
    assert read.status_code == 200 and read.json()["document"] == body["document"]


def test_other_roles_cannot_make_one_and_bad_heights_are_refused_naming_the_field(
    clients: dict[str, Any], books: Books
) -> None:
    # one set of books for every case (the fixture is the slow part)
    for role in ("auditor", "approver", "policy_admin"):
        response = clients[role].post(ATTESTATIONS, {"from_height": 100, "to_height": 104}, format="json")
        assert response.status_code == 403, role
        assert "reserve.add_periodattestation" in response.json()["error"]["message"]
    for data, field in (
        ({"from_height": 104, "to_height": 100}, "from_height"),  # reversed
        ({"from_height": 100, "to_height": 105}, "to_height"),  # beyond the verified tip
        ({"from_height": 100}, "to_height"),
        ({"from_height": -1, "to_height": 104}, "from_height"),
        ({"from_height": "one", "to_height": 104}, "from_height"),
    ):
        response = clients["operator"].post(ATTESTATIONS, data, format="json")
        assert response.status_code == 400, (data, response.content)
        assert field in response.json()["error"]["fields"], data
    assert not PeriodAttestation.objects.exists()


def test_the_service_role_cannot_edit_or_delete_an_attestation(clients: dict[str, Any], books: Books) -> None:
    # given
    made = clients["operator"].post(ATTESTATIONS, {"from_height": 100, "to_height": 104}, format="json")
    assert made.status_code == 201, made.content
    # when / then: raw SQL as reserve_app (the tests' connection) holds no UPDATE or DELETE on it (the
    # append-only trigger stands behind that for the owner)
    for sql in (
        "UPDATE reserve_periodattestation SET verdict = 'no net accumulation' WHERE id = %s",
        "DELETE FROM reserve_periodattestation WHERE id = %s",
    ):
        with (
            pytest.raises(ProgrammingError, match="permission denied for table reserve_periodattestation"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [made.json()["id"]])
    assert PeriodAttestation.objects.get().statement == made.json()["document"]["statement"]
