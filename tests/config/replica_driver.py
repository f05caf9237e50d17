"""Run against a primary and its streaming standby (tests/config/test_replica.py starts both):
migrate, write through the API, read the auditors' reports, pause the standby's replay, write
again, read again. Prints what it saw as one JSON document; the test judges it.

Run as `python -m tests.config.replica_driver` with DATABASE_URL, DATABASE_OWNER_URL,
DATABASE_REPLICA_URL and REPLICA_SUPERUSER_URL (the standby's superuser, to pause its replay).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import django


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    django.setup()


def _wait_replayed(superuser_url: str) -> None:
    """Until the standby has replayed everything the primary has written."""
    import psycopg
    from django.db import connections

    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        (target,) = cursor.fetchone()
    with psycopg.connect(superuser_url, autocommit=True) as standby:
        for _ in range(600):
            row = standby.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]).fetchone()
            if row is not None and row[0]:
                return
            time.sleep(0.05)
    raise TimeoutError(f"the standby did not replay up to {target}")


def _list_endpoints() -> list[str]:
    """Every GET list of the API's router, plus the reports that are not viewsets."""
    from reserve.api.urls import router

    paths = [f"/api/v1/{prefix}/" for prefix, _viewset, _basename in router.registry]
    return [*paths, "/api/v1/holdings/", "/api/v1/compliance/?from=2026-01-01T00:00:00Z&to=2026-12-01T00:00:00Z"]


def _read(client: Any, path: str) -> dict[str, Any]:
    response = client.get(path)
    body = response.json() if response["Content-Type"].startswith("application/json") else None
    return {
        "status": response.status_code,
        "read_from": response.get("X-Read-From"),
        "lag_bytes": response.get("X-Replica-Lag-Bytes"),
        "body": body,
    }


def _names(reading: dict[str, Any]) -> list[str]:
    return sorted(row["name"] for row in reading["body"]["results"])


def main() -> None:
    _setup()
    import psycopg
    from django.core.management import call_command
    from knox.models import AuthToken
    from rest_framework.test import APIClient

    from config.replica import ReplicaReadOnly, replica_reads
    from policy.services import lock_scopes
    from policy.types import PolicyScope
    from reserve.custody.models import Agency
    from tests.users import make_user

    call_command("migrate", verbosity=0)
    auditor = make_user("replica-auditor", "auditor")
    operator = make_user("replica-operator", "operator")
    clients = {}
    for user in (auditor, operator):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")
        clients[user.username] = client
    auditor_client, operator_client = clients["replica-auditor"], clients["replica-operator"]
    seen: dict[str, Any] = {}
    superuser_url = os.environ["REPLICA_SUPERUSER_URL"]

    created = operator_client.post("/api/v1/agencies/", {"name": "Treasury"}, format="json")
    seen["first_write"] = created.status_code
    _wait_replayed(superuser_url)
    seen["caught_up"] = _read(auditor_client, "/api/v1/agencies/")
    seen["endpoints"] = {path: _read(auditor_client, path) for path in _list_endpoints()}
    seen["csv"] = dict(auditor_client.get("/api/v1/transfers/?format=csv").items())

    with psycopg.connect(superuser_url, autocommit=True) as standby:
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            # Written while the standby stands still: the decision (the POST) sees the primary.
            second = operator_client.post("/api/v1/agencies/", {"name": "Central Bank"}, format="json")
            duplicate = operator_client.post("/api/v1/agencies/", {"name": "Central Bank"}, format="json")
            seen["write_while_lagging"] = second.status_code
            seen["duplicate_while_lagging"] = duplicate.json()
            seen["lagging"] = _read(auditor_client, "/api/v1/agencies/")
            seen["primary_has"] = sorted(Agency.objects.values_list("name", flat=True))
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")
    _wait_replayed(superuser_url)
    seen["resumed"] = _read(auditor_client, "/api/v1/agencies/")

    refused = []
    with replica_reads() as position:
        seen["position_database"] = position.database
        for attempt in (
            lambda: Agency.objects.create(name="Smuggled"),
            lambda: lock_scopes([PolicyScope("perimeter")]),
        ):
            try:
                attempt()
            except ReplicaReadOnly as error:
                refused.append(str(error))
    seen["refused_inside_replica_reads"] = refused
    seen["agency_names"] = {key: _names(seen[key]) for key in ("caught_up", "lagging", "resumed")}
    print(json.dumps(seen, default=str))


if __name__ == "__main__":
    main()
