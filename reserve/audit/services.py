"""Writing the audit trail: one append-only event per state change, with before/after snapshots.

The request id comes from a context variable that the HTTP layer (or a task) sets for the
duration of a request, so services need not thread it through every signature.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import models

from reserve.audit.models import AuditEvent

_request_id: ContextVar[str] = ContextVar("reserve_audit_request_id", default="")


@contextlib.contextmanager
def audit_context(*, request_id: str | None = None) -> Iterator[str]:
    """Tag every audit event written inside the block with `request_id` (a fresh one if None)."""
    value = request_id or uuid.uuid4().hex
    token = _request_id.set(value[:64])
    try:
        yield value
    finally:
        _request_id.reset(token)


def current_request_id() -> str:
    return _request_id.get()


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def snapshot(instance: models.Model) -> dict[str, Any]:
    """The concrete field values of a record, JSON-ready (foreign keys by id)."""
    return {field.attname: _json_value(getattr(instance, field.attname)) for field in instance._meta.concrete_fields}


def audit_record(
    *,
    actor: Any,
    action: str,
    instance: models.Model,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditEvent:
    """Append one event; `actor` None means a scheduled job ("system")."""
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEvent.objects.create(
        actor=actor if authenticated else None,
        actor_label=actor.get_username() if authenticated else "system",
        action=action,
        object_type=instance._meta.label_lower,
        object_id=str(instance.pk),
        before=before,
        after=after,
        request_id=current_request_id(),
    )
