"""Fixtures shared by every test package: one user per role (staff, so the same people work in
the admin, the API and the services), and the live regtest node (tests/regtest/fixtures.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytest_django.fixtures import _get_databases_for_setup

from config.database_roles import as_owner
from tests.owner import ensure_categories
from tests.users import ensure_permissions, make_user

pytest_plugins = ["tests.regtest.fixtures"]


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: Any,
    django_db_keepdb: bool,
    django_db_createdb: bool,
    django_db_modify_db_settings: None,
) -> Iterator[None]:
    """pytest-django's setup with the role split in force: the owner (DATABASE_OWNER_URL) creates,
    migrates and drops the test database; the tests themselves connect as the service role."""
    from django.test.utils import setup_databases, teardown_databases

    keepdb = django_db_keepdb and not django_db_createdb
    aliases, serialized_aliases = _get_databases_for_setup(request.session.items)
    with django_db_blocker.unblock(), as_owner():
        config = setup_databases(
            verbosity=request.config.option.verbose,
            interactive=False,
            aliases=aliases,  # type: ignore[arg-type]  # a set, as pytest-django passes it
            serialized_aliases=serialized_aliases,
            keepdb=keepdb,
        )
        # A reused database may have been flushed by the last run's transactional tests.
        ensure_categories()
    yield
    if not keepdb:
        with django_db_blocker.unblock(), as_owner():
            teardown_databases(config, verbosity=request.config.option.verbose)


@pytest.fixture
def operator(db: None) -> Any:
    return make_user("olga", "operator", staff=True)


@pytest.fixture
def operator2(db: None) -> Any:
    return make_user("omar", "operator", staff=True)


@pytest.fixture
def approver(db: None) -> Any:
    return make_user("ana", "approver", staff=True)


@pytest.fixture
def approver2(db: None) -> Any:
    return make_user("bruno", "approver", staff=True)


@pytest.fixture
def auditor(db: None) -> Any:
    return make_user("aude", "auditor", staff=True)


@pytest.fixture
def policy_admins(db: None) -> list[Any]:
    return [make_user(name, "policy_admin", staff=True) for name in ("pia", "paul", "petra")]


@pytest.fixture
def transactional_db(transactional_db: None) -> None:
    """pytest-django's, and the category terms the migration seeded, which a flush took along
    (however the test asked for the transactional database)."""
    ensure_categories()


@pytest.fixture(autouse=True)
def _permissions_present(request: pytest.FixtureRequest) -> None:
    """A transactional test starts with every content type and permission in place. A flush
    re-creates them only when Django does not inhibit it (it does after a serialized-rollback
    test), and tests that look permissions up directly (policy's) would then find none."""
    mark = request.node.get_closest_marker("django_db")
    if not (mark and (mark.kwargs.get("transaction") or mark.kwargs.get("serialized_rollback"))):
        return
    request.getfixturevalue("transactional_db")
    ensure_permissions()


def _db_mark(item: pytest.Item) -> pytest.Mark | None:
    return item.get_closest_marker("django_db")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Serialized-rollback tests first among the transactional ones. A transactional test's
    teardown flushes and re-creates content types and permissions under new ids; a later
    serialized test that restores the originals would then collide with them (Django inhibits
    that re-creation only after a serialized test). pytest-django has grouped the tests by
    database use by now; this keeps its groups and only moves these to the front of theirs."""

    def transactional(item: pytest.Item) -> bool:
        mark = _db_mark(item)
        return bool(mark and (mark.kwargs.get("transaction") or mark.kwargs.get("serialized_rollback")))

    first = next((index for index, item in enumerate(items) if transactional(item)), None)
    if first is None:
        return
    group = [item for item in items[first:] if transactional(item)]
    rest = [item for item in items[first:] if not transactional(item)]
    serialized = [item for item in group if _db_mark(item).kwargs.get("serialized_rollback")]  # type: ignore[union-attr]
    others = [item for item in group if not _db_mark(item).kwargs.get("serialized_rollback")]  # type: ignore[union-attr]
    items[first:] = serialized + others + rest


def pytest_unconfigure(config: pytest.Config) -> None:
    # A test run stops the embedded servers it started (a `make run` that was already up keeps its own).
    from config import embedded

    embedded.stop_started_here()
