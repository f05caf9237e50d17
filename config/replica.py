"""Reads that may be served by a streaming replica, and the guard that nothing else is.

With `DATABASE_REPLICA_URL` set, the database alias `replica` is a hot standby of the primary.
Only code inside `replica_reads()` reads from it: the auditors' reports and lists of the API
(`reserve/api/base.CsvMixin`). Everything else (gates, writes, anything that decides) reads the
primary, and cannot be made to do otherwise: inside `replica_reads()` a write through the ORM
raises `ReplicaReadOnly` (the router refuses it), and so does a call of a gate
(`refuse_in_replica_reads`, called by the policy gates, `lock_scopes` and the funds check).
A report so served says how far the standby had replayed (`ReplayPosition`): its replay LSN,
the time of the last replayed commit, and how many bytes of WAL the primary had written beyond it.

Without a replica, `replica_reads()` reads the primary and says so; a replica that cannot be
reached is the same, with the reason, so an auditor's report never fails for a standby's sake.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction

REPLICA = "replica"
logger = logging.getLogger(__name__)
_reading_replica: ContextVar[bool] = ContextVar("reading_replica", default=False)


class ReplicaReadOnly(RuntimeError):
    """A write or a decision was attempted while reading from the replica: a bug, never input."""


@dataclass(frozen=True)
class ReplayPosition:
    """Where the data of a read came from, and for the replica how current it was."""

    database: str  # "primary" or "replica"
    replay_lsn: str | None = None
    replayed_at: datetime | None = None  # commit time of the last transaction the standby replayed
    primary_lsn: str | None = None
    lag_bytes: int | None = None
    reason: str = ""  # why the primary served a read meant for the replica

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "replay_lsn": self.replay_lsn,
            "replayed_at": self.replayed_at.isoformat() if self.replayed_at else None,
            "primary_lsn": self.primary_lsn,
            "lag_bytes": self.lag_bytes,
            "reason": self.reason,
        }

    def headers(self) -> dict[str, str]:
        headers = {"X-Read-From": self.database}
        if self.replay_lsn is not None:
            headers["X-Replica-Replay-LSN"] = self.replay_lsn
            headers["X-Replica-Lag-Bytes"] = str(self.lag_bytes)
            headers["X-Replica-Replayed-At"] = self.replayed_at.isoformat() if self.replayed_at else ""
        return headers


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def read_alias() -> str:
    """The alias raw SQL of a read should use: the replica inside `replica_reads()`, else the primary."""
    return REPLICA if _reading_replica.get() else DEFAULT_DB_ALIAS


def refuse_in_replica_reads(what: str) -> None:
    """Called by every gate and by posting: none of them may judge from a standby's past."""
    if _reading_replica.get():
        raise ReplicaReadOnly(f"{what} must read the primary, not the replica")


def _position() -> ReplayPosition:
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, pg_last_xact_replay_timestamp()")
        in_recovery, replay_lsn, replayed_at = cursor.fetchone()
    if not in_recovery:
        # Pointed at a primary (a promoted standby, or a misconfiguration): it is current.
        return ReplayPosition(database=REPLICA, replay_lsn=None, reason="the replica is not in recovery")
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(
            "SELECT pg_current_wal_lsn()::text, GREATEST(pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn), 0)::bigint",
            [replay_lsn],
        )
        primary_lsn, lag_bytes = cursor.fetchone()
    return ReplayPosition(
        database=REPLICA,
        replay_lsn=replay_lsn,
        replayed_at=replayed_at,
        primary_lsn=primary_lsn,
        lag_bytes=int(lag_bytes),
    )


@contextmanager
def replica_reads() -> Iterator[ReplayPosition]:
    """Serve the reads inside from the replica, in one read-only snapshot; yield where they came from."""
    if not replica_configured():
        yield ReplayPosition(database="primary")
        return
    try:
        connections[REPLICA].ensure_connection()
    except DatabaseError as error:
        logger.warning("replica unavailable, reading the primary: %s", error)
        connections[REPLICA].close()
        yield ReplayPosition(database="primary", reason="the replica is unavailable")
        return
    with transaction.atomic(using=REPLICA):
        with connections[REPLICA].cursor() as cursor:
            # One snapshot for the whole report: a standby replays while we read.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        position = _position()
        token = _reading_replica.set(True)
        try:
            yield position
        finally:
            _reading_replica.reset(token)


class ReplicaRouter:
    """Inside `replica_reads()` every ORM read goes to the replica and every ORM write is refused."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return REPLICA if _reading_replica.get() else None

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        refuse_in_replica_reads(f"a write of {model._meta.label}")
        return None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return True  # one database, two views of it

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return db != REPLICA
