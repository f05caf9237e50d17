"""The audit trail, read-only for everyone: events are appended by services and the database
refuses to change them."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html

from reserve.admin.common import ReadOnlyAdmin
from reserve.models import AuditEvent


def _pretty(value: object) -> str:
    if value is None:
        return "—"
    return format_html('<pre class="whitespace-pre-wrap text-xs">{}</pre>', json.dumps(value, indent=2, sort_keys=True))


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor_label", "action", "object_type", "object_id", "request_id")
    list_filter = ("action", "object_type")
    search_fields = ("actor_label", "action", "object_id", "request_id")
    date_hierarchy = "at"
    fields = (
        "at",
        "actor",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "request_id",
        "before_json",
        "after_json",
    )
    readonly_fields = ("before_json", "after_json")

    @admin.display(description="before")
    def before_json(self, event: AuditEvent) -> str:
        return _pretty(event.before)

    @admin.display(description="after")
    def after_json(self, event: AuditEvent) -> str:
        return _pretty(event.after)
