"""The database owner's connection, for tests that play the owner (who can always disable triggers).

Only in transactional tests: the default connection is re-opened as DATABASE_OWNER_URL's role
for the block (config/database_roles.as_owner), then as the service role again.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection

from config.database_roles import as_owner, owner_settings, service_role

# Tests of what the service's role may not do need that role. Both CI passes and the embedded
# server run with the split; a developer pointing DATABASE_URL at a superuser without
# DATABASE_OWNER_URL has no such role, and is told so. Under CI the tests run regardless and
# fail, so a lost split can never pass as a skip.
requires_role_split = pytest.mark.skipif(
    service_role() is None and not os.environ.get("CI"),
    reason="the role split is not in force (DATABASE_OWNER_URL unset, so the service connects as the owner)",
)


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


SEED_CATEGORIES = Path(__file__).resolve().parent.parent / "policy" / "sql" / "0005_policy_category_seed.sql"


def ensure_categories() -> None:
    """A flush (transactional tests' teardown) takes the migration-seeded category terms along;
    the owner seeds them again, as the migration did, on a session of its own (the test's
    connection is left as it is)."""
    from policy.models import Category

    if Category.objects.filter(code="other").exists():
        return
    owner = owner_settings() or connection.settings_dict
    params = {"dbname": connection.settings_dict["NAME"], "user": owner["USER"], "password": owner.get("PASSWORD")}
    params |= {"host": owner.get("HOST") or None, "port": owner.get("PORT") or None}
    with psycopg.connect(**{key: value for key, value in params.items() if value}, autocommit=True) as session:
        session.execute(SEED_CATEGORIES.read_text())


def another_session(**options: Any) -> psycopg.Connection[Any]:
    """A second PostgreSQL session as the test's own role, on the test database: what another
    process of the service would see (locks held, rows committed)."""
    params = connection.get_connection_params()
    wanted = {name: params[name] for name in ("dbname", "user", "password", "host", "port") if params.get(name)}
    return psycopg.connect(**wanted, **options)
