"""Backups checked against the transparency log: `make backup` and `make restore FILE=...`.

A backup is one plain-SQL file: its first line is the manifest, a SQL comment

    -- reserve-ledger backup v1 {"tree_size": n, "root_hash": ..., "head": {signed head}, ...}

and the rest is pg_dump's output, taken as the owner from the same snapshot the manifest's
head was read in (an exported snapshot held open through the dump), so the two agree.

Restore loads the file into the service's database, which must be empty, and keeps it only
if the restored books reproduce the manifest: the head's signature verifies under this
service's key, every transaction's hash is recomputed from its content (verify_chain), every
leaf from its transaction and every signed head's root from the leaves (verify_log), and the
restored head of the manifest's size is the manifest's. An amount edited in the file's text
fails the first; anything refused is dropped again, leaving the database empty. psql runs
the file restricted (no meta-command: a crafted file's shell escape is refused, not run).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import subprocess
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from django.db import connection

from config.database_roles import owner_settings
from config.embedded import postgres_tool
from config.errors import NotFound, ValidationFailed
from ledger.log.heads import TreeHead
from ledger.log.selectors import head_at, verify_log
from ledger.selectors import verify_chain
from ledger.signing import signing_key

MANIFEST_PREFIX = "-- reserve-ledger backup v1 "


def _owner_env() -> dict[str, str]:
    """libpq's variables for the service's database (as Django names it) as the owner."""
    target = dict(connection.settings_dict)
    owner = owner_settings()
    if owner is not None:
        target.update({key: owner.get(key) for key in ("USER", "PASSWORD", "HOST", "PORT")})
    env = {**os.environ, "PGDATABASE": str(target["NAME"]), "PGUSER": str(target["USER"] or "")}
    env |= {"PGHOST": str(target["HOST"] or "127.0.0.1"), "PGPORT": str(target["PORT"] or 5432)}
    if target.get("PASSWORD"):
        env["PGPASSWORD"] = str(target["PASSWORD"])
    return env


def _connect(env: dict[str, str]) -> psycopg.Connection[Any]:
    return psycopg.connect(
        dbname=env["PGDATABASE"],
        user=env["PGUSER"],
        host=env["PGHOST"],
        port=env["PGPORT"],
        password=env.get("PGPASSWORD"),
    )


def _server_major(db: psycopg.Connection[Any]) -> int:
    row = db.execute("SHOW server_version_num").fetchone()
    assert row is not None
    return int(row[0]) // 10000


def backup_write(path: Path) -> dict[str, Any]:
    """Dump the service's database to `path` with its manifest; the manifest."""
    env = _owner_env()
    with _connect(env) as db:
        db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = db.execute("SELECT pg_export_snapshot()").fetchone()
        head = db.execute(
            "SELECT tree_size, root_hash, timestamp_ms, signature, key_id FROM ledger_signedtreehead"
            " ORDER BY tree_size DESC LIMIT 1"
        ).fetchone()
        if head is None:
            raise ValidationFailed.for_field("head", "the log has no signed head yet: run manage.py seal_log first")
        assert snapshot is not None
        signed = TreeHead(*head)
        manifest = {
            "tree_size": signed.tree_size,
            "root_hash": signed.root_hash,
            "head": asdict(signed),
            "public_key": signing_key().public_hex,
            "database": env["PGDATABASE"],
            "taken_at": datetime.now(UTC).isoformat(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")  # never a half-written file under the asked name
        try:
            with partial.open("w", encoding="utf-8") as out:
                out.write(MANIFEST_PREFIX + json.dumps(manifest, sort_keys=True) + "\n")
                out.flush()
                subprocess.run(
                    [postgres_tool("pg_dump", _server_major(db)), "--no-owner", f"--snapshot={snapshot[0]}"],
                    env=env,
                    stdout=out,
                    check=True,
                    timeout=600,
                )
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        db.rollback()
    return manifest


def manifest_of(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as handle:
            first = handle.readline()
    except (OSError, UnicodeDecodeError) as error:
        raise ValidationFailed.for_field("file", f"cannot read {path}: {error}") from None
    if not first.startswith(MANIFEST_PREFIX):
        raise ValidationFailed.for_field("file", "not a reserve-ledger backup (no manifest on its first line)")
    try:
        manifest = json.loads(first[len(MANIFEST_PREFIX) :])
        manifest["head"] = TreeHead(**manifest["head"])
    except (ValueError, KeyError, TypeError):
        raise ValidationFailed.for_field("file", "the backup's manifest is not readable") from None
    return dict(manifest)


def _refusal(manifest: dict[str, Any]) -> str:
    """Why the restored books do not reproduce the manifest ("" when they do)."""
    head: TreeHead = manifest["head"]
    if head.tree_size != manifest["tree_size"] or head.root_hash != manifest["root_hash"]:
        return "the manifest's size and root are not its signed head's"
    if not head.valid_for(signing_key().public_bytes):
        return "the manifest's head is not signed by this service's key"
    chain = verify_chain()
    if not chain.ok:
        return f"journal transaction {chain.first_bad_sequence}: {chain.reason}"
    log = verify_log()
    if not log.ok:
        return f"the restored log: {log.reason}"
    try:
        restored = head_at(head.tree_size)
    except NotFound:
        return f"the restored log has no signed head of size {head.tree_size}"
    if restored != head:
        return f"the restored head of size {head.tree_size} is not the manifest's (root {restored.root_hash})"
    return ""


# psql's \restrict (PostgreSQL 18): no meta-command runs until \unrestrict with the same key.
PSQL_RESTRICT_SINCE = 18
_RESTRICT_LINE = re.compile(r"^\\(un)?restrict [A-Za-z0-9]+\n?$")


def _psql_load(path: Path, psql: str, env: dict[str, str]) -> tuple[int, str]:
    r"""Feed the dump to psql in one transaction, restricted under a key of our own, so a crafted file's
    meta-commands (a shell escape, \copy, \connect) are refused instead of run on this machine. The
    dump's own \restrict / \unrestrict lines (pg_dump 18 writes them) are left out."""
    with tempfile.TemporaryFile("w+") as errors, path.open(encoding="utf-8") as dump:
        psql_process = subprocess.Popen(
            [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-f", "-"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            text=True,
        )
        assert psql_process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            psql_process.stdin.write(f"\\restrict {secrets.token_hex(16)}\n")
            for line in dump:
                if not _RESTRICT_LINE.match(line):
                    psql_process.stdin.write(line)
            psql_process.stdin.close()
        returncode = psql_process.wait(timeout=600)
        errors.seek(0)
        return returncode, errors.read().strip()


def restore_load(path: Path) -> dict[str, Any]:
    """Load the backup at `path` into the service's (empty) database and keep it only if it
    reproduces its manifest; the manifest. Raises ValidationFailed (the database left empty)."""
    manifest = manifest_of(path)
    env = _owner_env()
    with _connect(env) as db:
        row = db.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'"
        ).fetchone()
        major = _server_major(db)
    if row is None or row[0]:
        raise ValidationFailed.for_field("database", f"{env['PGDATABASE']} is not empty: restore into an empty one")
    returncode, message = _psql_load(path, postgres_tool("psql", max(major, PSQL_RESTRICT_SINCE)), env)
    if returncode != 0:
        raise ValidationFailed.for_field("file", f"the dump did not load: {message[-500:]}")
    connection.close()
    refusal = _refusal(manifest)
    if refusal:
        connection.close()
        with _connect(env) as db:
            db.execute("DROP SCHEMA public CASCADE")
            db.execute("CREATE SCHEMA public AUTHORIZATION CURRENT_USER")
            db.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")
        raise ValidationFailed.for_field("file", f"refused, the database emptied again: {refusal}")
    return manifest
