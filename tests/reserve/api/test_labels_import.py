"""BIP-329 label import (POST /labels/): the export imports back as no change, an edited label is
stored, audited and exported, the same file twice changes nothing, a record naming what the wallet
does not hold or a bad line refuses the whole file naming line and field, and only operators import."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.db import IntegrityError, ProgrammingError, connection, transaction

from reserve.audit.models import AuditEvent
from reserve.custody.models import WalletLabel
from tests.reserve.admin.conftest import TPRV
from tests.reserve.api.conftest import Books

pytestmark = pytest.mark.django_db


def _export(client: Any, wallet: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/labels/?wallet={wallet}")
    assert response.status_code == 200
    return [json.loads(line) for line in response.content.decode().splitlines()]


def _import(client: Any, wallet: int, records: list[Any] | str) -> Any:
    text = records if isinstance(records, str) else "\n".join(json.dumps(record) for record in records) + "\n"
    return client.post(
        "/api/v1/labels/", {"wallet": wallet, "jsonl": text}, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )


def test_round_trip_then_an_edit_is_stored_once_audited_and_exported(clients: dict[str, Any], books: Books) -> None:
    exported = _export(clients["auditor"], "cold-01")
    assert {record["type"] for record in exported} >= {"xpub", "addr", "tx", "output"}

    unchanged = _import(clients["operator"], books.cold.pk, exported)
    assert unchanged.status_code == 200, unchanged.content
    assert unchanged.json() == {"records": len(exported), "changed": 0}
    assert not WalletLabel.objects.exists()

    address = next(record for record in exported if record["type"] == "addr")
    tx = next(record for record in exported if record["type"] == "tx")
    edited = [record | {"label": "Seized at the border"} if record is address else record for record in exported]
    edited.append({"type": "tx", "ref": tx["ref"], "label": "Court order 7 deposit"})
    before = AuditEvent.objects.filter(action="label.import").count()
    first = _import(clients["operator"], books.cold.pk, edited)
    assert first.json() == {"records": len(edited), "changed": 2}
    assert AuditEvent.objects.filter(action="label.import").count() == before + 2

    again = _import(clients["operator"], books.cold.pk, edited)
    assert again.json() == {"records": len(edited), "changed": 0}
    assert AuditEvent.objects.filter(action="label.import").count() == before + 2
    assert WalletLabel.objects.count() == 2

    now = {(record["type"], record["ref"]): record["label"] for record in _export(clients["auditor"], "cold-01")}
    assert now[("addr", address["ref"])] == "Seized at the border"
    assert now[("tx", tx["ref"])] == "Court order 7 deposit"


BAD_LINES = [
    ("not json", "line"),
    ("[1, 2]", "line"),
    ('{"type": "pubkey", "ref": "02ab", "label": "x"}', "type"),
    ('{"type": "addr", "label": "x"}', "ref"),
    ('{"type": "addr", "ref": "ADDRESS", "label": ""}', "label"),
    ('{"type": "addr", "ref": "ADDRESS", "label": 7}', "label"),
    ('{"type": "addr", "ref": "ADDRESS", "label": "' + "x" * 256 + '"}', "label"),
    ('{"type": "addr", "ref": "ADDRESS", "label": "x", "colour": "red"}', "colour"),
    ('{"type": "output", "ref": "OUTPUT", "label": "x", "spendable": "yes"}', "spendable"),
    ('{"type": "addr", "ref": "ADDRESS", "label": "TPRV"}', "label"),
    ('{"type": "addr", "ref": "OTHER", "label": "not ours"}', "ref"),
    ('{"type": "tx", "ref": "' + "00" * 32 + '", "label": "unknown tx"}', "ref"),
]


def test_a_bad_line_refuses_the_file_naming_line_and_field(clients: dict[str, Any], books: Books) -> None:
    ours = _export(clients["auditor"], "cold-01")
    theirs = _export(clients["auditor"], "vault-02")
    address = next(record["ref"] for record in ours if record["type"] == "addr")
    output = next(record["ref"] for record in ours if record["type"] == "output")
    other = next(record["ref"] for record in theirs if record["type"] == "addr")
    for template, field in BAD_LINES:
        line = (
            template.replace("TPRV", TPRV).replace("ADDRESS", address).replace("OUTPUT", output).replace("OTHER", other)
        )
        good = json.dumps({"type": "addr", "ref": address, "label": "would be imported"})
        response = _import(clients["operator"], books.cold.pk, f"{good}\n\n{line}\n")
        assert response.status_code == 400, (line, response.content)
        assert any("line 3: " in message for message in response.json()["error"]["fields"][field]), response.json()
        assert not WalletLabel.objects.exists()


def test_only_operators_import(clients: dict[str, Any], books: Books) -> None:
    records = _export(clients["auditor"], "cold-01")[:1]
    assert _import(clients["auditor"], books.cold.pk, records).status_code == 403
    assert _import(clients["anonymous"], books.cold.pk, records).status_code == 401
    assert _import(clients["operator"], 10**9, records).status_code == 400


def test_the_service_role_cannot_delete_or_blank_a_label(clients: dict[str, Any], books: Books) -> None:
    record = _export(clients["auditor"], "cold-01")[0]
    assert _import(clients["operator"], books.cold.pk, [record | {"label": "kept"}]).json()["changed"] == 1
    assert connection.settings_dict["USER"] == "reserve_app"
    with pytest.raises(ProgrammingError, match="permission denied"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM reserve_walletlabel")
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE reserve_walletlabel SET label = ''")
    assert WalletLabel.objects.get().label == "kept"
