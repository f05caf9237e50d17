"""GET /healthz: the state of the database, Redis and the bitcoin node."""

from __future__ import annotations

from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse


def _database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True}
    except Exception as error:  # noqa: BLE001 - any failure means "down", reported by name
        return {"ok": False, "error": str(error).strip()[:300]}


def _redis() -> dict[str, Any]:
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        return {"ok": True}
    except Exception as error:  # noqa: BLE001
        return {"ok": False, "error": str(error).strip()[:300]}


def _bitcoin_node() -> dict[str, Any]:
    if not settings.BITCOIN_RPC_URL:
        return {"ok": False, "configured": False}
    try:
        from bitcoin.rpc import RawProxy

        proxy = RawProxy(service_url=settings.BITCOIN_RPC_URL, timeout=3)
        return {"ok": True, "configured": True, "network": settings.BITCOIN_NETWORK, "height": proxy.getblockcount()}
    except Exception as error:  # noqa: BLE001
        return {"ok": False, "configured": True, "error": str(error).strip()[:300]}


def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database(), "redis": _redis(), "bitcoin_node": _bitcoin_node()}
    # The node being down degrades reconciliation but not the books: only DB and Redis fail the check.
    down = [name for name in ("database", "redis") if not checks[name]["ok"]]
    body = {"status": "ok" if not down else "unavailable", "down": down, "checks": checks}
    return JsonResponse(body, status=503 if down else 200)
