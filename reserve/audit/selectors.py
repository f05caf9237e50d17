"""Reading the audit trail: events by the record they concern, newest first."""

from __future__ import annotations

from django.db.models import QuerySet

from reserve.audit.models import AuditEvent


def audit_trail(*, object_type: str | None = None, object_id: str | None = None) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.select_related("actor")
    if object_type:
        events = events.filter(object_type=object_type)
    if object_id:
        events = events.filter(object_id=object_id)
    return events.order_by("-id")
