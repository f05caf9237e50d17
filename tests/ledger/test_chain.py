"""Each transaction's hash: verify_chain() and `manage.py verify_ledger` find the first tampered one
(deletions are the transparency log's to find: tests/ledger/log/)."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.management import CommandError, call_command

from ledger.models import Entry, JournalTransaction
from ledger.selectors import verify_chain
from ledger.services import EntrySpec, post_transaction
from tests.owner import owner_cursor

pytestmark = pytest.mark.django_db(transaction=True)


def _post_chain(cold, hot, fund, count: int) -> list[JournalTransaction]:
    posted = [fund(cold, 10_000)]
    for index in range(count - 1):
        posted.append(
            post_transaction(
                idempotency_key=f"t-{index}",
                entries=[
                    EntrySpec(account=hot, amount_sats=10 + index),
                    EntrySpec(account=cold, amount_sats=-10 - index),
                ],
                kind="transfer",
                memo=f"transfer {index}",
                metadata={"n": index, "tags": ["a", "é"]},
            )
        )
    return posted


def _tamper(table: str, trigger: str, statement: str, params: list) -> None:
    # The owner's doing: the service role can neither disable triggers nor update (test_service_role.py).
    with owner_cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        try:
            cursor.execute(statement, params)
        finally:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")


def test_intact_chain_verifies(cold, hot, fund):
    posted = _post_chain(cold, hot, fund, 6)
    result = verify_chain()
    assert result.ok
    assert result.length == 6
    assert result.head_hash == posted[-1].hash
    assert result.first_bad_sequence is None
    # unchained since the log: no ledger-wide order at posting time
    assert {journal.prev_hash for journal in posted} == {""}


def test_hash_follows_the_documented_recipe(cold, fund):
    # given one posting, recompute its hash by the recipe in ledger/chain.py, independently of the code
    posted = fund(cold, 777, block_height=5, metadata={"ref": "court order 12/2024"})
    entries = sorted(
        (
            {"account": code, "amount_sats": amount, "currency": "BTC"}
            for code, amount in Entry.objects.filter(transaction=posted).values_list("account__code", "amount_sats")
        ),
        key=lambda e: (e["account"], e["amount_sats"]),
    )
    content = {
        "id": str(posted.pk),
        "idempotency_key": posted.idempotency_key,
        "request_hash": posted.request_hash,
        "kind": "acquisition",
        "memo": "",
        "block_height": 5,
        "block_hash": None,
        "txid": None,
        "metadata": {"ref": "court order 12/2024"},
        "reverses": None,
        "created_by": None,
        "entries": entries,
    }
    body = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    stamp = "%Y-%m-%dT%H:%M:%S.%fZ"
    stored = JournalTransaction.objects.get(pk=posted.pk)
    material = "|".join(
        [
            "",
            str(stored.sequence),
            stored.occurred_at.strftime(stamp),
            stored.posted_at.strftime(stamp),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    # then PostgreSQL's link step and the recipe agree, and the returned instance matches the row
    assert stored.hash == hashlib.sha256(material.encode()).hexdigest()
    assert (posted.hash, posted.sequence, posted.posted_at) == (stored.hash, stored.sequence, stored.posted_at)


def test_edited_entry_is_detected_at_its_sequence(cold, hot, fund):
    # given a chain of 6 postings
    posted = _post_chain(cold, hot, fund, 6)
    target = posted[3]
    # when an entry of #4 is edited behind the trigger's back
    _tamper(
        "ledger_entry",
        "ledger_entry_immutable",
        "UPDATE ledger_entry SET amount_sats = amount_sats + 1 WHERE transaction_id = %s AND amount_sats > 0",
        [target.pk],
    )
    # then verification fails exactly there
    result = verify_chain()
    assert not result.ok
    assert result.first_bad_sequence == target.sequence
    assert result.length == 3
    assert "content" in result.reason


def test_edited_memo_and_rewritten_hash_are_detected(cold, hot, fund):
    posted = _post_chain(cold, hot, fund, 5)
    # when someone edits #2's memo and writes another hash
    _tamper(
        "ledger_journaltransaction",
        "ledger_journaltransaction_immutable",
        "UPDATE ledger_journaltransaction SET memo = 'nothing to see', hash = repeat('f', 64) WHERE id = %s",
        [posted[1].pk],
    )
    result = verify_chain()
    assert (result.ok, result.first_bad_sequence) == (False, posted[1].sequence)


def test_verify_ledger_command(cold, hot, fund, capsys):
    posted = _post_chain(cold, hot, fund, 3)
    call_command("verify_ledger")
    assert "hash chain ok: 3 transactions" in capsys.readouterr().out
    _tamper(
        "ledger_journaltransaction",
        "ledger_journaltransaction_immutable",
        "UPDATE ledger_journaltransaction SET kind = 'forged' WHERE id = %s",
        [posted[2].pk],
    )
    with pytest.raises(CommandError, match=f"broken at sequence {posted[2].sequence}"):
        call_command("verify_ledger")
