"""scripts/verify_log.py as an auditor runs it: a subprocess against a live server, keeping heads in a file.
It passes on the honest log and fails, with the reason, on a fork, an edited past amount, a deleted newest
transaction, and a log truncated and rebuilt."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from ledger.log.heads import head_sign
from ledger.log.sealer import seal_log
from ledger.models import Account, AccountType, JournalTransaction
from ledger.services import EntrySpec, account_create, post_transaction
from ledger.signing import signing_key
from tests.owner import behind_the_triggers
from tests.reserve.api.conftest import token_client

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "verify_log.py"
LOG_TABLES = ("ledger_logleaf", "ledger_lognode", "ledger_signedtreehead", "ledger_logpending")


def _post(count: int, source: Account, target: Account) -> list[JournalTransaction]:
    return [
        post_transaction(
            idempotency_key=f"script-{source.pk}-{index}-{JournalTransaction.objects.count()}",
            entries=[
                EntrySpec(account=target, amount_sats=5 + index),
                EntrySpec(account=source, amount_sats=-5 - index),
            ],
            kind="transfer",
        )
        for index in range(count)
    ]


def _export(path: Path, auditor: Any) -> Path:
    client = token_client(auditor)
    pages, page = [], 1
    while True:
        body = client.get(f"/api/v1/ledger/transactions/?page={page}").json()
        pages.append(body)
        if not body["next"]:
            break
        page += 1
    path.write_text(json.dumps(pages))
    return path


def _verify(url: str, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--url", url, "--state", str(state), "--key", signing_key().public_hex, *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _rebuild_log() -> None:
    """The owner's rewrite: every log row dropped and the journal as it is now sealed afresh."""
    with behind_the_triggers(*LOG_TABLES) as cursor:
        for table in LOG_TABLES:
            cursor.execute(f"DELETE FROM {table}")
        cursor.execute("INSERT INTO ledger_logpending SELECT id, sequence FROM ledger_journaltransaction")
    seal_log()


@pytest.fixture
def honest(live_server: Any, tmp_path: Path, users: dict[str, Any]) -> dict[str, Any]:
    """Six sealed transactions in two heads, both kept by the auditor's verifier."""
    equity = account_create(code="equity:script", account_type=AccountType.EQUITY)
    cold = account_create(code="assets:script:cold", account_type=AccountType.ASSET)
    posted = _post(4, equity, cold)
    seal_log()
    state = tmp_path / "heads.json"
    with override_settings(LEDGER_LOG_PUBLIC=True):
        first = _verify(live_server.url, state, "--journal", str(_export(tmp_path / "j1.json", users["auditor"])))
        assert first.returncode == 0, first.stderr
        posted += _post(2, equity, cold)
        seal_log()
        second = _verify(live_server.url, state, "--include", str(posted[0].pk), str(posted[-1].pk))
        assert second.returncode == 0, second.stderr
        assert "ok: log of size 6" in second.stdout
    assert [head["tree_size"] for head in json.loads(state.read_text())["heads"]] == [4, 6]
    return {"url": live_server.url, "state": state, "posted": posted, "auditor": users["auditor"], "tmp": tmp_path}


@pytest.mark.django_db(transaction=True)
@override_settings(LEDGER_LOG_PUBLIC=True)
def test_a_forked_head_and_an_edited_past_amount_are_caught(honest: dict[str, Any]) -> None:
    # when the owner replaces the head of size 6 by another of that size, properly signed
    fork = head_sign(signing_key(), tree_size=6, root_hex="ab" * 32, timestamp_ms=10**13)
    with behind_the_triggers("ledger_signedtreehead") as cursor:
        cursor.execute("DELETE FROM ledger_signedtreehead WHERE tree_size = 6")
        cursor.execute(
            "INSERT INTO ledger_signedtreehead VALUES (%s, %s, %s, %s, %s)",
            [fork.tree_size, fork.root_hash, fork.timestamp_ms, fork.key_id, fork.signature],
        )
    result = _verify(honest["url"], honest["state"])
    assert result.returncode == 1
    assert "fork: the service now shows another head of size 6" in result.stderr
    # when a past amount is edited and the whole log rebuilt over the edited journal
    target = honest["posted"][1]
    with behind_the_triggers("ledger_entry") as cursor:
        cursor.execute("UPDATE ledger_entry SET amount_sats = amount_sats * 2 WHERE transaction_id = %s", [target.pk])
    _rebuild_log()
    result = _verify(honest["url"], honest["state"])
    assert result.returncode == 1
    assert "the service no longer has the head of size 4 it signed" in result.stderr
    # and a fresh auditor who kept no head still sees the journal no longer gives its hashes
    export = _export(honest["tmp"] / "j2.json", honest["auditor"])
    result = _verify(honest["url"], honest["tmp"] / "new.json", "--journal", str(export))
    assert result.returncode == 1
    assert f"#{target.sequence}): its content does not give its hash" in result.stderr


@pytest.mark.django_db(transaction=True)
@override_settings(LEDGER_LOG_PUBLIC=True)
def test_a_deleted_newest_transaction_and_a_truncated_log_are_caught(honest: dict[str, Any]) -> None:
    # when the owner deletes the newest transaction with triggers off and rebuilds the log without it
    newest = honest["posted"][-1]
    with behind_the_triggers("ledger_entry", "ledger_journaltransaction", *LOG_TABLES) as cursor:
        cursor.execute("DELETE FROM ledger_logleaf")
        cursor.execute("DELETE FROM ledger_logpending")
        cursor.execute("DELETE FROM ledger_entry WHERE transaction_id = %s", [newest.pk])
        cursor.execute("DELETE FROM ledger_journaltransaction WHERE id = %s", [newest.pk])
    _rebuild_log()
    result = _verify(honest["url"], honest["state"])
    assert result.returncode == 1
    assert "the log shrank: a head of size 6 was kept, the latest is 5" in result.stderr
    # when the journal is truncated to its first three and the log rebuilt
    keep = [journal.pk for journal in honest["posted"][:3]]
    with behind_the_triggers("ledger_entry", "ledger_journaltransaction", *LOG_TABLES) as cursor:
        cursor.execute("DELETE FROM ledger_logleaf")
        cursor.execute("DELETE FROM ledger_logpending")
        cursor.execute("DELETE FROM ledger_entry WHERE NOT transaction_id = ANY(%s::uuid[])", [keep])
        cursor.execute("DELETE FROM ledger_journaltransaction WHERE NOT id = ANY(%s::uuid[])", [keep])
    _rebuild_log()
    result = _verify(honest["url"], honest["state"])
    assert result.returncode == 1
    assert "the log shrank" in result.stderr


def test_the_verifier_imports_only_the_standard_library_and_cryptography() -> None:
    tree = ast.parse(SCRIPT.read_text())
    modules = {
        ((node.module or "") if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert modules - sys.stdlib_module_names == {"cryptography"}
