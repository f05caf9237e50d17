"""A database that went away is a 503 with `Retry-After`, never a 500.

Requests that meet a dropped connection (a PostgreSQL restart, a failover, a terminated
backend) or a transient refusal (deadlock, serialization failure, statement timeout: all
`OperationalError`) get 503 in the API's error shape (or plain text outside the API), and
the broken connection is closed so the retry opens a fresh one. The API's exception handler
answers for DRF views; `server_error` (the project's handler500) for every other path,
including exceptions raised in middleware.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

RETRY_AFTER_SECONDS = 5
CODE = "database_unavailable"
MESSAGE = "The database is unavailable or refused the request for now; retry with the same Idempotency-Key."


def database_unavailable(error: BaseException | None) -> bool:
    return isinstance(error, OperationalError | InterfaceError)


def close_broken_connections() -> None:
    """Drop connections that errored and no longer answer (outside a transaction), so the next
    query reconnects instead of failing on the dead socket again."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


def error_body() -> dict[str, dict[str, object]]:
    return {"error": {"code": CODE, "message": MESSAGE, "fields": {}}}


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a database outage becomes a 503; anything else is Django's own 500 page."""
    if not database_unavailable(sys.exc_info()[1]):
        return defaults.server_error(request)
    close_broken_connections()
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(), status=503, headers=headers)
    return HttpResponse(f"503 Service Unavailable: {MESSAGE}\n", status=503, content_type="text/plain", headers=headers)
