"""Client keys and the services' own keys never share a namespace: a key a client chooses may not
start with a prefix the services reserve (ledger.idempotency.RESERVED_PREFIXES), in any case, and
a ledger CSV whose key does is refused naming its line and column, posting nothing."""

from __future__ import annotations

import pytest

from config.errors import ValidationFailed
from ledger.errors import ImportRowError
from ledger.idempotency import RESERVED_PREFIXES, client_key_check
from ledger.models import JournalTransaction
from ledger.services import ledger_import_csv

HEADER = "idempotency_key,occurred_at,kind,account,amount_sats,memo,block_height,block_hash,txid\n"
TXID = "ab" * 32


@pytest.mark.parametrize("prefix", [*RESERVED_PREFIXES, *(prefix.upper() for prefix in RESERVED_PREFIXES)])
def test_a_client_key_in_a_reserved_namespace_is_refused_naming_the_field(prefix: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        client_key_check(f"  {prefix}{TXID}:0", field="Idempotency-Key")
    assert "reserved" in caught.value.fields["Idempotency-Key"][0]


def test_the_service_namespaces_cover_every_key_the_services_make() -> None:
    # observed movements, a transfer's or discrepancy's postings, historical import rows
    assert {"observed:", "reserve:", "import:"} <= set(RESERVED_PREFIXES)


@pytest.mark.parametrize("key", ["k-1", "2f1c0e5e-uuid", "observer:1", "my-observed:1"])
def test_ordinary_client_keys_pass(key: str) -> None:
    assert client_key_check(key, field="idempotency_key") == key


@pytest.mark.django_db
@pytest.mark.parametrize("key", [f"observed:{TXID}:0:inbound::1", "reserve:transfer:1:confirm:" + TXID, "import:x"])
def test_a_ledger_csv_with_a_reserved_key_is_refused_naming_line_and_column(cold, equity, key: str) -> None:
    rows = (
        HEADER
        + "ok-1,2021-09-07T00:00:00Z,purchase,assets:custody:cold-01,5,,,,\n"
        + "ok-1,2021-09-07T00:00:00Z,purchase,equity:acquisitions:forfeiture,-5,,,,\n"
        + f"{key},2021-09-08T00:00:00Z,purchase,assets:custody:cold-01,40000000,,,,\n"
        + f"{key},2021-09-08T00:00:00Z,purchase,equity:acquisitions:forfeiture,-40000000,,,,\n"
    ).splitlines(keepends=True)
    with pytest.raises(ImportRowError) as caught:
        ledger_import_csv(rows=rows)
    assert (caught.value.line, caught.value.field) == (4, "idempotency_key")
    assert "reserved" in caught.value.message
    assert not JournalTransaction.objects.exists()
