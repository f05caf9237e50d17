"""The audit trail, read-only for everyone: events are appended by services and the database
refuses to change them."""

from __future__ import annotations

from django.contrib import admin

from reserve.admin.common import ReadOnlyAdmin, json_block
from reserve.audit.models import AuditEvent


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
        return json_block(event.before)

    @admin.display(description="after")
    def after_json(self, event: AuditEvent) -> str:
        return json_block(event.after)
