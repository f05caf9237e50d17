"""The database owner's connection, for tests that play the owner (who can always disable triggers).

Only in transactional tests: the default connection is re-opened as DATABASE_OWNER_URL's role
for the block (config/database_roles.as_owner), then as the service role again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.db import connection

from config.database_roles import as_owner


@contextlib.contextmanager
def owner_cursor() -> Iterator[Any]:
    with as_owner(), connection.cursor() as cursor:
        yield cursor


@contextlib.contextmanager
def behind_the_triggers(*tables: str) -> Iterator[Any]:
    """The owner's power no trigger can stop: as the owner, every user trigger of `tables` off for
    the block (ALTER TABLE ... DISABLE TRIGGER USER), then on again. Transactional tests only."""
    with as_owner(), connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')
        try:
            yield cursor
        finally:
            for table in tables:
                cursor.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER USER')
