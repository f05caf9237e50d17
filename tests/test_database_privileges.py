"""The one list of the service role's privileges (config/database_privileges.py) covers the database.

A new table must be added to the list before its migration passes these tests, so no table
silently gets more than it should; the role's actual grants are exactly the list's, and it
owns no object at all (it could otherwise disable triggers or re-grant itself).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from config.database_privileges import COLUMN_PRIVILEGES, TABLE_PRIVILEGES, append_only_tables
from config.database_roles import service_role
from tests.owner import requires_role_split

pytestmark = pytest.mark.django_db


def _rows(sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def test_every_table_is_in_the_list_and_the_list_names_only_tables() -> None:
    tables = {row[0] for row in _rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert sorted(tables - TABLE_PRIVILEGES.keys()) == [], "tables missing from config/database_privileges.py"
    assert sorted(TABLE_PRIVILEGES.keys() - tables) == [], "listed tables that do not exist"


def test_every_append_only_table_has_the_truncate_guard() -> None:
    guarded = {
        row[0]
        for row in _rows(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE t.tgfoid = 'reserve_refuse_truncate'::regproc AND t.tgenabled = 'O'"
        )
    }
    assert guarded == set(append_only_tables())


@requires_role_split
def test_the_service_role_holds_exactly_the_listed_privileges() -> None:
    role = service_role()
    granted: dict[str, set[str]] = {}
    for table, privilege in _rows(
        "SELECT table_name, privilege_type FROM information_schema.role_table_grants"
        " WHERE grantee = %s AND table_schema = 'public'",
        [role],
    ):
        granted.setdefault(str(table), set()).add(str(privilege))
    expected = {table: set(privileges) for table, privileges in TABLE_PRIVILEGES.items() if privileges}
    assert granted == expected
    columns = {
        (str(table), str(column), str(privilege))
        for table, column, privilege in _rows(
            "SELECT table_name, column_name, privilege_type FROM information_schema.column_privileges"
            " WHERE grantee = %s AND table_schema = 'public' AND privilege_type <> 'SELECT'"
            " AND privilege_type <> 'INSERT'",
            [role],
        )
    }
    expected_columns = {
        (table, column, privilege) for table, (privilege, names) in COLUMN_PRIVILEGES.items() for column in names
    }
    # column privileges implied by a table grant (UPDATE on READ_WRITE tables) are listed too
    implied = {(t, c, p) for t, c, p in columns if p in TABLE_PRIVILEGES.get(t, ())}
    assert columns - implied == expected_columns


@requires_role_split
def test_the_service_role_owns_nothing() -> None:
    role = service_role()
    owned = _rows(
        """
        SELECT 'relation', c.relname FROM pg_class c WHERE c.relowner = %(role)s::regrole
        UNION ALL SELECT 'function', p.proname FROM pg_proc p WHERE p.proowner = %(role)s::regrole
        UNION ALL SELECT 'schema', n.nspname FROM pg_namespace n WHERE n.nspowner = %(role)s::regrole
        UNION ALL SELECT 'type', t.typname FROM pg_type t WHERE t.typowner = %(role)s::regrole
        UNION ALL SELECT 'database', d.datname FROM pg_database d WHERE d.datdba = %(role)s::regrole
        """,
        {"role": role},
    )
    assert owned == []
    (member_of,) = _rows(
        "SELECT count(*) FROM pg_auth_members WHERE member = %s::regrole",
        [role],
    )
    assert member_of == (0,)
