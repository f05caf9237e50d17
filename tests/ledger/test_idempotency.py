"""The one request hash (ledger.idempotency): its recipe, and that no module hashes requests its own way.

Each caller stores what this function returns: tests/reserve/api/test_idempotency.py (method,
path, body) and tests/reserve/transfers/test_transfers.py (a transfer draft) check that."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ledger.chain import canonical_json
from ledger.idempotency import request_hash
from tests.source_tree import occurrences


def test_the_recipe_is_sha256_of_canonical_json() -> None:
    # Sorted keys, no spaces, UTF-8 rather than \u escapes: changing any of these would turn
    # every stored hash into a 409 on its next retry.
    payload = {"memo": "Überweisung", "amount_sats": 5, "legs": [["b", 1], ["a", -1]], "reverses": None}
    expected = '{"amount_sats":5,"legs":[["b",1],["a",-1]],"memo":"Überweisung","reverses":null}'
    assert canonical_json(payload) == expected
    assert request_hash(payload) == hashlib.sha256(expected.encode("utf-8")).hexdigest()


def test_key_order_does_not_matter_but_every_value_does() -> None:
    assert request_hash({"a": 1, "b": 2}) == request_hash({"b": 2, "a": 1})
    assert request_hash({"a": 1, "b": 2}) != request_hash({"a": 1, "b": 3})
    assert request_hash({"a": 1}) != request_hash({"a": "1"})


def test_decimals_uuids_and_times_are_written_as_text() -> None:
    # given the same instant in two time zones, and a Decimal as typed
    instant = datetime(2026, 1, 31, 12, tzinfo=UTC)
    elsewhere = instant.astimezone(timezone(timedelta(hours=2)))
    identifier = uuid.UUID(int=7)
    # then
    assert (
        request_hash({"at": instant})
        == request_hash({"at": elsewhere})
        == request_hash({"at": "2026-01-31T12:00:00.000000Z"})
    )
    assert request_hash({"fiat": Decimal("1.50")}) == request_hash({"fiat": "1.50"}) != request_hash({"fiat": "1.5"})
    assert request_hash({"id": identifier}) == request_hash({"id": str(identifier)})
    assert request_hash({"day": date(2026, 1, 31)}) == request_hash({"day": "2026-01-31"})


@pytest.mark.parametrize("value", [object(), {1, 2}, b"bytes", float("nan")])
def test_a_value_without_one_spelling_is_refused(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        request_hash({"value": value})


def test_no_other_module_defines_a_request_hash() -> None:
    assert occurrences(r"def \w*request_hash\b", allowed=("ledger/idempotency.py",)) == []
    imported = occurrences(r"import .*\brequest_hash\b")
    # Every import of the name is ledger.idempotency's (beside its other names, such as client_key_check).
    assert imported and all("from ledger.idempotency import " in line for line in imported), imported


def test_no_other_module_hashes_json_by_hand() -> None:
    # The five copies this replaced each wrote sha256(json.dumps(...)) with its own settings.
    hashed_json = occurrences(r"sha256\(.*(json|dumps|canonical)", allowed=("ledger/idempotency.py", "ledger/chain.py"))
    assert hashed_json == []
