"""`Idempotency-Key` for API writes: the first response is stored with a hash of the request; a
retry with the same request gets that response again and changes nothing, the same key with
another request is a 409, a key in a namespace the services reserve for their own keys is a 400,
and racing retries wait for the first to finish (an advisory lock per user and key, held to
commit). A write that fails stores nothing and may be retried."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, cast

from django.contrib.auth.models import User
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from config.errors import Conflict, ValidationFailed
from config.transient import retry_transient
from ledger.idempotency import client_key_check, request_hash
from reserve.api.models import ApiIdempotencyKey

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


def idempotency_parameter(*, required: bool) -> OpenApiParameter:
    return OpenApiParameter(
        HEADER,
        OpenApiTypes.STR,
        location=OpenApiParameter.HEADER,
        required=required,
        description=(
            "A key unique to this operation (e.g. a UUID). A retry with the same key and body returns the "
            "first response; the same key with another body is a 409."
        ),
    )


def request_payload(request: Request) -> dict[str, Any]:
    """What a retry must repeat to be a replay: method, path and the parsed body."""
    return {"method": request.method, "path": request.path, "body": request.data}


def _lock(user_id: int, key: str) -> None:
    digest = hashlib.sha256(f"reserve-ledger:api-idempotency:{user_id}:{key}".encode()).digest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)])


def idempotent(request: Request, perform: Callable[[], Response], *, required: bool) -> Response:
    """Run `perform` once per (user, key); replay its stored response for the same request. A
    deadlock or serialization failure is retried here, the whole transaction again."""
    key = request.headers.get(HEADER, "").strip()
    if not key:
        if required:
            raise ValidationFailed.for_field(HEADER, "is required for this write (a unique key per operation)")
        return retry_transient(perform)
    key = client_key_check(key, field=HEADER, max_length=MAX_KEY_LENGTH)
    digest = request_hash(request_payload(request))
    return retry_transient(lambda: _once(request, perform, key=key, digest=digest))


def _once(request: Request, perform: Callable[[], Response], *, key: str, digest: str) -> Response:
    user = cast(User, request.user)
    with transaction.atomic():
        _lock(user.pk, key)
        stored = ApiIdempotencyKey.objects.filter(user=user, key=key).first()
        if stored is not None:
            if stored.request_hash != digest:
                raise Conflict(
                    f"the idempotency key {key!r} was used for another request "
                    f"({stored.method} {stored.path} with a different body)",
                    fields={HEADER: ["already used with a different request"]},
                )
            return Response(stored.response_body, status=stored.status_code, headers={REPLAY_HEADER: "true"})
        response = perform()
        ApiIdempotencyKey.objects.create(
            user=user,
            key=key,
            method=request.method or "",
            path=request.path[:500],
            request_hash=digest,
            status_code=response.status_code,
            response_body=json.loads(json.dumps(response.data, cls=DjangoJSONEncoder)),
        )
        return response
