"""Imports in the admin: an upload proposes a batch (nothing posts); the batch page shows its
hash and every row, with approve / reject buttons for approvers other than the proposer."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import URLPattern, path, reverse

from config.errors import ApplicationError, ValidationFailed
from reserve.admin.common import ReadOnlyAdmin, StyledForm, admin_page, refuse
from reserve.imports.models import ImportBatch, ImportKind, ImportStatus
from reserve.imports.services import (
    APPROVE_PERMISSION,
    batch_rows,
    import_approve,
    import_batch_summary,
    import_propose,
    import_refusal,
    import_reject,
)

MAX_CSV_BYTES = 20 * 1024 * 1024


class CsvUploadForm(StyledForm):
    file = forms.FileField(label="CSV file")

    def file_bytes(self) -> bytes:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_CSV_BYTES:
            raise ValidationFailed.for_field("file", f"is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB")
        return bytes(upload.read())


def csv_import_page(
    request: HttpRequest, *, model_admin: admin.ModelAdmin, kind: str, permission: str, title: str, columns: str
) -> HttpResponse:
    """Upload and propose the file as an import batch; a bad file is refused naming line and field."""
    if not request.user.has_perm(permission):
        raise PermissionDenied
    form = CsvUploadForm(request.POST, request.FILES) if request.method == "POST" else CsvUploadForm()
    failure = None
    if request.method == "POST" and form.is_valid():
        try:
            batch = import_propose(
                kind=kind, data=form.file_bytes(), actor=request.user, filename=form.cleaned_data["file"].name
            )
        except ApplicationError as error:
            refuse(error)
            failure = error.message
            form.add_error("file", f"Nothing was proposed. {error.message}")
        else:
            messages.success(
                request,
                f"Proposed {import_batch_summary(batch)}. Nothing is posted until "
                f"{batch.required_approvals} approvers other than you approve it.",
            )
            return redirect("admin:reserve_importbatch_change", batch.pk)
    return admin_page(
        request,
        model_admin=model_admin,
        template="reserve/admin/csv_import.html",
        title=title,
        context={"form": form, "columns": columns, "failure": failure},
        status=400 if form.errors else 200,
    )


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "status", "proposer", "file_sha256", "created_at", "decided_at")
    list_filter = ("kind", "status")
    list_select_related = ("proposer",)
    search_fields = ("file_sha256", "filename", "proposer__username")
    change_form_outer_before_template = "reserve/admin/import_batch.html"
    list_before_template = "reserve/admin/import_link.html"

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("ledger/", wrap(self.ledger_import_view), name="reserve_importbatch_ledger"),
            *(
                path(
                    f"<path:object_id>/{action}/",
                    wrap(self.decide_view),
                    {"action": action},
                    name=f"reserve_importbatch_{action}",
                )
                for action in ("approve", "reject")
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        context = {
            **(extra_context or {}),
            "import_url": reverse("admin:reserve_importbatch_ledger"),
            "import_label": "Propose a ledger CSV import",
            "can_import": request.user.has_perm("reserve.import_ledger"),
        }
        return super().changelist_view(request, extra_context=context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> Any:
        batch = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if batch is not None:
            refusal = None
            offered = batch.status == ImportStatus.PENDING_APPROVAL and request.user.has_perm(
                f"reserve.{APPROVE_PERMISSION}"
            )
            if offered:
                refusal = import_refusal(batch=batch, actor=request.user, file_sha256=batch.file_sha256)
            context.update(
                {
                    "batch": batch,
                    "rows": batch_rows(batch),
                    "approvals": list(batch.approvals.select_related("approver")),
                    "show_decision": offered,
                    "decision_blocked": refusal.message if refusal else "",
                }
            )
        return super().change_view(request, object_id, form_url, extra_context=context)

    def decide_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """Approve or reject (POST only), bound to the file hash the page showed."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm(f"reserve.{APPROVE_PERMISSION}"):
            raise PermissionDenied
        batch = get_object_or_404(ImportBatch, pk=unquote(object_id))
        shown = request.POST.get("file_sha256", "")
        comment = request.POST.get("comment", "")
        try:
            if action == "approve":
                batch = import_approve(batch=batch, actor=request.user, file_sha256=shown, comment=comment)
            else:
                batch = import_reject(batch=batch, actor=request.user, file_sha256=shown, comment=comment)
        except ApplicationError as error:
            refuse(error)
            messages.error(request, f"Not {action}d: {error.message}")
        else:
            if batch.status == ImportStatus.REFUSED:
                messages.error(
                    request,
                    f"Import #{batch.pk} refused at line {batch.refused_line} ({batch.refused_rule}): "
                    f"{batch.refused_reason} Nothing was posted.",
                )
            else:
                messages.success(request, f"{import_batch_summary(batch)}.")
        return redirect("admin:reserve_importbatch_change", batch.pk)

    def ledger_import_view(self, request: HttpRequest) -> HttpResponse:
        return csv_import_page(
            request,
            model_admin=self,
            kind=ImportKind.LEDGER,
            permission="reserve.import_ledger",
            title="Propose a ledger CSV import",
            columns=(
                "Columns: idempotency_key, occurred_at, kind, account, amount_sats [, memo, block_height, "
                "block_hash, txid]; one row per entry, occurred_at strictly increasing. Rows on a custody "
                "wallet's account are refused: reserve bitcoin moves only as transfers."
            ),
        )
