"""`make backup` / `make restore`: a round trip on the system PostgreSQL (as `make restore` runs it) and on
an embedded one, refused into a database that is not empty, and refused (the database emptied again)
when an amount was edited in the dump's text or the file carries psql meta-commands."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import environ
import psycopg
import pytest
from django.db import connection

from config import embedded
from config.database_roles import OWNER_URL_VARIABLE, admin_url, provision, urls_for
from config.errors import ValidationFailed
from ledger.log.backup import backup_write, restore_load
from ledger.log.sealer import seal_log
from ledger.models import Account, AccountType, JournalTransaction
from ledger.services import EntrySpec, account_create, post_transaction

ROOT = Path(__file__).resolve().parents[3]


@contextlib.contextmanager
def _books_at(service_url: str, owner_url: str | None) -> Iterator[None]:
    """Django's default connection (and the owner's URL) pointed at another database for the block."""
    target = environ.Env.db_url_config(service_url)
    keys = ("NAME", "USER", "PASSWORD", "HOST", "PORT")
    saved = {key: connection.settings_dict.get(key) for key in keys}
    saved_owner = os.environ.get(OWNER_URL_VARIABLE)
    connection.close()
    connection.settings_dict.update({key: target.get(key) for key in keys})
    if owner_url:
        os.environ[OWNER_URL_VARIABLE] = owner_url
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)
        if saved_owner is not None:
            os.environ[OWNER_URL_VARIABLE] = saved_owner


@contextlib.contextmanager
def _scratch_database() -> Iterator[tuple[str, str | None]]:
    name = f"restore_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield urls_for(name)
    finally:
        with psycopg.connect(admin_url(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _tables(url: str) -> int:
    with psycopg.connect(url) as db:
        row = db.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
    assert row is not None
    return int(row[0])


def _books(url: str) -> list[tuple[Any, ...]]:
    """What the service's role reads back: each transaction's hash and its entries' amounts, in log order."""
    with psycopg.connect(url) as db:
        return db.execute(
            "SELECT l.index, t.hash, array_agg(e.amount_sats ORDER BY e.amount_sats) FROM ledger_logleaf l"
            " JOIN ledger_journaltransaction t ON t.id = l.transaction_id"
            " JOIN ledger_entry e ON e.transaction_id = t.id"
            " GROUP BY l.index, t.hash ORDER BY l.index"
        ).fetchall()


def _amount_edited(text: str) -> str:
    """The insider's edit: both legs of one transaction moved by 1000 sats in the COPY data (still balanced)."""
    header = re.search(r"^COPY public\.ledger_entry \(([^)]*)\) FROM stdin;\n", text, re.M)
    assert header is not None
    columns = [column.strip().strip('"') for column in header.group(1).split(",")]
    amount, transaction = columns.index("amount_sats"), columns.index("transaction_id")
    start = header.end()
    end = text.index("\n\\.\n", start)
    rows = [line.split("\t") for line in text[start:end].split("\n")]
    legs = [row for row in rows if row[transaction] == rows[-1][transaction]]
    for row in legs:
        row[amount] = str(int(row[amount]) + (1000 if int(row[amount]) > 0 else -1000))
    return text[:start] + "\n".join("\t".join(row) for row in rows) + text[end:]


def _plain(tmp_path: Path) -> Path:
    path = tmp_path / "plain.sql"
    path.write_text("CREATE TABLE intruder (id int);\n")
    return path


def _post(index: int) -> None:
    post_transaction(
        idempotency_key=f"backup-{index}",
        entries=[
            EntrySpec(account=Account.objects.get(code="assets:backup:cold"), amount_sats=700 + index),
            EntrySpec(account=Account.objects.get(code="equity:backup"), amount_sats=-700 - index),
        ],
        kind="transfer",
    )


def _backup(path: Path) -> dict[str, Any]:
    """Three sealed transactions and a fourth posted after the head, dumped with their manifest while a
    fifth is posted and then sealed: the dump and its manifest are both of the moment the backup began."""
    account_create(code="equity:backup", account_type=AccountType.EQUITY)
    account_create(code="assets:backup:cold", account_type=AccountType.ASSET)
    for index in range(3):
        _post(index)
    seal_log()
    _post(3)
    owner_url = urls_for(connection.settings_dict["NAME"])[1] or urls_for(connection.settings_dict["NAME"])[0]
    books = _books(urls_for(connection.settings_dict["NAME"])[0])
    written: list[dict[str, Any]] = []
    # pg_dump, once it has taken the backup's snapshot, waits on a table lock held here
    with psycopg.connect(owner_url) as holder:
        holder.execute("LOCK TABLE django_session IN ACCESS EXCLUSIVE MODE")
        dumper = threading.Thread(target=lambda: written.append(backup_write(path)))
        dumper.start()
        for _ in range(600):
            waiting = holder.execute(
                "SELECT count(*) FROM pg_locks WHERE relation = 'django_session'::regclass AND NOT granted"
            ).fetchone()
            if waiting and waiting[0]:
                break
            time.sleep(0.05)
        # meanwhile the books move on: a fifth posting
        _post(4)
    # and, the lock gone (its xid held the sealer's horizon), sealed into a head of size 5 while the dump
    # runs: the backup's open snapshot holds nothing back
    assert seal_log().tree_size == 5
    dumper.join(timeout=120)
    (manifest,) = written
    return {"path": path, "manifest": manifest, "books": books}


# One test, so the books are posted, flushed and dumped once (the CI budget).
@pytest.mark.django_db(transaction=True)
@pytest.mark.integration
def test_backup_round_trips_on_system_and_embedded_postgres_and_refuses_tampering(tmp_path: Path) -> None:
    backup = _backup(tmp_path / "books.sql")
    # the manifest names the signed head the dump was taken with (the fourth posting is not sealed yet)
    assert backup["manifest"]["tree_size"] == 3
    assert JournalTransaction.objects.count() == 5
    with _scratch_database() as (service_url, owner_url):
        # an amount edited in the dump's text (both legs, still balanced) is refused and nothing is left
        tampered = tmp_path / "tampered.sql"
        tampered.write_text(_amount_edited(backup["path"].read_text()))
        with _books_at(service_url, owner_url), pytest.raises(ValidationFailed, match="refused") as refused:
            restore_load(tampered)
        assert "hash does not match the transaction's content" in str(refused.value)
        assert _tables(service_url) == 0

        # a crafted file: psql meta-commands (a shell escape after lifting pg_dump's restriction) never run
        marker = tmp_path / "shell-escape-ran"
        manifest_line, dump = backup["path"].read_text().split("\n", 1)
        crafted = tmp_path / "crafted.sql"
        crafted.write_text(f"{manifest_line}\n\\unrestrict anykey\n\\! touch {marker}\n{dump}")
        with _books_at(service_url, owner_url), pytest.raises(ValidationFailed, match="did not load"):
            restore_load(crafted)
        assert not marker.exists()
        assert _tables(service_url) == 0
        # and a file that is no backup at all is refused before anything is loaded
        with _books_at(service_url, owner_url), pytest.raises(ValidationFailed, match="no manifest"):
            restore_load(_plain(tmp_path))

        # when: `make restore FILE=...` as an operator runs it, into the database the refusals left empty
        env = {**os.environ, "DATABASE_URL": service_url, **({OWNER_URL_VARIABLE: owner_url} if owner_url else {})}
        restored = subprocess.run(
            [sys.executable, "manage.py", "ledger_restore", str(backup["path"])],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        # then: the same books, read back by the service's role, and the root reproduced
        assert restored.returncode == 0, restored.stderr
        assert f"root {backup['manifest']['root_hash']} reproduced" in restored.stdout
        assert _books(service_url) == backup["books"]
        with psycopg.connect(service_url) as db:
            # of the backup's moment: not the fifth posting nor its head, that came during the backup
            assert db.execute("SELECT count(*) FROM ledger_journaltransaction").fetchone() == (4,)
            assert db.execute("SELECT max(tree_size) FROM ledger_signedtreehead").fetchone() == (3,)
            # the service's role is as powerless in the restored database as in the original
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                db.execute("TRUNCATE ledger_entry")

        # when: restored a second time, into the now non-empty database
        with _books_at(service_url, owner_url), pytest.raises(ValidationFailed, match="is not empty"):
            restore_load(backup["path"])
        # then: what is there is untouched
        assert _books(service_url) == backup["books"]

    # an embedded server of its own in a tmp dir (PostgreSQL 18: the dump crosses major versions)
    pgdata = tmp_path / "postgres"
    embedded.postgres_init(pgdata)
    port = embedded.free_port()
    embedded.postgres_start(pgdata, port)
    try:
        service_url, owner_url = provision(f"postgres://postgres@127.0.0.1:{port}/postgres", "reserve_ledger")
        with _books_at(service_url, owner_url):
            manifest = restore_load(backup["path"])
        assert manifest["root_hash"] == backup["manifest"]["root_hash"]
        assert _books(service_url) == backup["books"]
    finally:
        embedded.postgres_stop_at(pgdata)
