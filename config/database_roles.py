"""The two database roles: the owner (migrations, maintenance) and the service role (web, worker, beat).

DATABASE_URL is the service's connection; DATABASE_OWNER_URL the owner's, used only by
`migrate` (and test database creation/flush) through `as_owner`. After every migrate,
`apply_privileges` gives the service role exactly config/database_privileges.py's grants
and puts the TRUNCATE guard on every append-only table.

`python -m config.database_roles ADMIN_URL DATABASE` creates both roles (idempotently) on a
server where ADMIN_URL may create roles, creates DATABASE if absent and hands every object in
it to the owner; the embedded server and CI's system server are set up that way.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from config.database_privileges import COLUMN_PRIVILEGES, TABLE_PRIVILEGES, append_only_tables

OWNER_ROLE = "reserve_owner"
APP_ROLE = "reserve_app"
OWNER_URL_VARIABLE = "DATABASE_OWNER_URL"
# The one maintenance path past the TRUNCATE guard: a setting the owner sets on its own connection.
MAINTENANCE_SETTING = "reserve.maintenance"
MAINTENANCE_FLUSH = "flush"
_CREDENTIALS = ("USER", "PASSWORD", "HOST", "PORT")


def owner_settings() -> dict[str, Any] | None:
    """The owner's connection settings from DATABASE_OWNER_URL, or None when it is unset."""
    url = os.environ.get(OWNER_URL_VARIABLE, "")
    if not url:
        return None
    import environ

    return dict(environ.Env.db_url_config(url))


def warn_without_split() -> None:
    """migrate without DATABASE_OWNER_URL: DATABASE_URL's role becomes the owner of every table."""
    if not os.environ.get(OWNER_URL_VARIABLE):
        warnings.warn(
            "DATABASE_OWNER_URL is not set: migrating as DATABASE_URL's role, so the service connects as the "
            "OWNER of its tables and can disable their triggers, truncate and rewrite the books. Set "
            "DATABASE_URL to a role that owns nothing and DATABASE_OWNER_URL to the owner (README, Configuration).",
            RuntimeWarning,
            stacklevel=2,
        )


@contextlib.contextmanager
def as_owner(alias: str = "default", *, maintenance: bool = False) -> Iterator[None]:
    """Run the block on `alias` connected as the owner (the database name is left as it is).

    Re-entrant; without DATABASE_OWNER_URL the service's connection already is the owner.
    `maintenance` also sets the maintenance setting the TRUNCATE guard lets through.
    """
    from django.db import connections

    connection = connections[alias]
    owner = owner_settings()
    swap = owner is not None and any(connection.settings_dict.get(key) != owner.get(key) for key in _CREDENTIALS)
    saved = {key: connection.settings_dict.get(key) for key in _CREDENTIALS}
    if swap:
        assert owner is not None
        connection.close()
        connection.settings_dict.update({key: owner.get(key) for key in _CREDENTIALS})
    try:
        if maintenance:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, %s, false)", [MAINTENANCE_SETTING, MAINTENANCE_FLUSH])
        yield
    finally:
        if maintenance and not swap:
            with contextlib.suppress(Exception), connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, '', false)", [MAINTENANCE_SETTING])
        if swap:
            connection.close()
            connection.settings_dict.update(saved)


def service_role() -> str | None:
    """The service's role name (DATABASE_URL's user) when it differs from the owner's (None: no split)."""
    import environ

    owner = owner_settings()
    url = os.environ.get("DATABASE_URL", "")
    user = environ.Env.db_url_config(url).get("USER") if url else None
    if owner is None or not user or user == owner.get("USER"):
        return None
    return str(user)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


TRUNCATE_GUARD_SQL = f"""
CREATE OR REPLACE FUNCTION reserve_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The maintenance path: the table's owner, having set {MAINTENANCE_SETTING} on its own connection.
    IF current_setting('{MAINTENANCE_SETTING}', true) = '{MAINTENANCE_FLUSH}'
       AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = '23L01';
END $$;
"""


def apply_privileges(connection: Any) -> None:
    """As the owner: the TRUNCATE guards, then exactly the listed grants for the service role."""
    role = service_role()
    with connection.cursor() as cursor:
        cursor.execute(TRUNCATE_GUARD_SQL)
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        present = {row[0] for row in cursor.fetchall()}
        for table in append_only_tables():
            if table in present:
                cursor.execute(
                    f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {_quote(table)}"
                    " FOR EACH STATEMENT EXECUTE FUNCTION reserve_refuse_truncate()"
                )
        cursor.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        cursor.execute(f"REVOKE TEMPORARY ON DATABASE {_quote(connection.settings_dict['NAME'])} FROM PUBLIC")
        if role is None:
            return
        app = _quote(role)
        cursor.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {app}")
        cursor.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {app}")
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {app}")
        cursor.execute(f"GRANT CONNECT ON DATABASE {_quote(connection.settings_dict['NAME'])} TO {app}")
        for table in sorted(present & TABLE_PRIVILEGES.keys()):
            cursor.execute(f"GRANT {', '.join(TABLE_PRIVILEGES[table])} ON {_quote(table)} TO {app}")
        for table, (privilege, columns) in COLUMN_PRIVILEGES.items():
            if table in present:
                cursor.execute(f"GRANT {privilege} ({', '.join(columns)}) ON {_quote(table)} TO {app}")
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app}")


# Roles and ownership on a server the service runs its own setup on (embedded, CI).
_ROLES_SQL = f"""
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
        CREATE ROLE {OWNER_ROLE} LOGIN CREATEDB NOSUPERUSER NOCREATEROLE;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
    END IF;
END $$;
"""

# A database made before the split (everything owned by the admin): hand it to the owner.
_REOWN_SQL = f"""
DO $$ DECLARE item record; BEGIN
    FOR item IN SELECT c.oid::regclass AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
                   AND c.relowner <> '{OWNER_ROLE}'::regrole
                   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                   AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
    LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO {OWNER_ROLE}', item.name);
    END LOOP;
    FOR item IN SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = 'public' AND p.proowner <> '{OWNER_ROLE}'::regrole
    LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO {OWNER_ROLE}', item.name);
    END LOOP;
END $$;
"""


def role_url(url: str, role: str, database: str | None = None) -> str:
    """`url` with its user (and password) replaced by `role`, and optionally its database."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{role}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{database}" if database else parts.path))


def provision(admin_url: str, database: str, *, adopt_all: bool = False, adopt: Sequence[str] = ()) -> tuple[str, str]:
    """Create both roles and `database` (owned by the owner) if absent; return (service URL, owner URL).

    Passwordless roles: for a server with trust (or peer) authentication on the local host,
    as the embedded one and CI's. A server with passwords gets its roles from its administrator.
    `adopt_all` (a private server: the embedded one) also hands every other database to the owner,
    so a test database left by a run before the split can be dropped and re-created; `adopt`
    names such databases one by one (on a shared server: the test database's name).
    """
    import psycopg

    with psycopg.connect(role_url(admin_url, urlsplit(admin_url).username or "postgres", "postgres")) as admin:
        admin.autocommit = True
        admin.execute(_ROLES_SQL)
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if exists is None:
            admin.execute(f"CREATE DATABASE {_quote(database)} OWNER {OWNER_ROLE}")
        else:
            admin.execute(f"ALTER DATABASE {_quote(database)} OWNER TO {OWNER_ROLE}")
        others = admin.execute(
            "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname NOT IN ('postgres', %s)"
            " AND datdba <> %s::regrole AND (%s OR datname = ANY(%s))",
            [database, OWNER_ROLE, adopt_all, list(adopt)],
        ).fetchall()
        for (name,) in others:
            admin.execute(f"ALTER DATABASE {_quote(name)} OWNER TO {OWNER_ROLE}")
    with psycopg.connect(role_url(admin_url, urlsplit(admin_url).username or "postgres", database)) as admin:
        admin.autocommit = True
        admin.execute(f"ALTER SCHEMA public OWNER TO {OWNER_ROLE}")
        admin.execute(_REOWN_SQL)
    return role_url(admin_url, APP_ROLE, database), role_url(admin_url, OWNER_ROLE, database)


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def urls_for(database: str) -> tuple[str, str | None]:
    """(service URL, owner URL or None) of another database on the same server, for scratch
    databases (benches, the stack's tests); create and drop them through `admin_url()`."""
    owner = os.environ.get(OWNER_URL_VARIABLE)
    return _with_database(os.environ["DATABASE_URL"], database), _with_database(owner, database) if owner else None


def admin_url() -> str:
    """The owner's connection to the server's `postgres` database (it may create databases)."""
    return _with_database(os.environ.get(OWNER_URL_VARIABLE) or os.environ["DATABASE_URL"], "postgres")


def env_for(database: str) -> dict[str, str]:
    """DATABASE_URL (and DATABASE_OWNER_URL when set) pointed at `database`."""
    service, owner = urls_for(database)
    return {"DATABASE_URL": service, **({OWNER_URL_VARIABLE: owner} if owner else {})}


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        sys.stderr.write("usage: python -m config.database_roles ADMIN_URL DATABASE [TEST_DATABASE...]\n")
        return 2
    service, owner = provision(argv[0], argv[1], adopt=argv[2:])
    sys.stdout.write(f"DATABASE_URL={service}\n{OWNER_URL_VARIABLE}={owner}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
