"""Reconciliation in the admin: runs, verified blocks, wallet outputs (read-only), and the
discrepancies operators resolve with a reason and, where needed, a ledger adjustment."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from unfold.decorators import display

from config.errors import ApplicationError
from reserve.admin.common import ReadOnlyAdmin, StyledForm, admin_page, refuse, show_service_error
from reserve.common.amounts import btc_to_sats
from reserve.reconciliation.models import ChainBlock, Discrepancy, DiscrepancyStatus, ReconciliationRun, WalletUtxo
from reserve.reconciliation.services import discrepancy_resolve
from reserve.templatetags.reserve_admin import btc
from reserve.transfers.coins import live_freezes, utxo_freeze, utxo_unfreeze


def _btc_or_dash(sats: int | None) -> str:
    return "—" if sats is None else btc(sats)


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "wallet", "status_label", "height", "started_at", "finished_at", "chain", "books", "open")
    list_filter = ("status", "trigger", "wallet")
    list_select_related = ("wallet",)
    search_fields = ("block_hash", "error", "task_id")

    @display(description="status", ordering="status", label={"succeeded": "success", "failed": "danger"})
    def status_label(self, run: ReconciliationRun) -> str:
        return run.status

    @admin.display(description="chain")
    def chain(self, run: ReconciliationRun) -> str:
        return _btc_or_dash(run.chain_balance_sats)

    @admin.display(description="books")
    def books(self, run: ReconciliationRun) -> str:
        return _btc_or_dash(run.ledger_balance_sats)

    @admin.display(description="open discrepancies")
    def open(self, run: ReconciliationRun) -> int:
        return run.discrepancy_count


@admin.register(ChainBlock)
class ChainBlockAdmin(ReadOnlyAdmin):
    list_display = ("height", "hash", "network", "status", "tx_count", "block_time_at", "verified_at")
    list_filter = ("network", "status")
    search_fields = ("hash", "prev_hash")
    exclude = ("header",)


class FreezeForm(StyledForm):
    reason = forms.CharField(widget=forms.Textarea, help_text="Why; kept in the audit trail")


@admin.register(WalletUtxo)
class WalletUtxoAdmin(ReadOnlyAdmin):
    list_display = ("wallet", "txid", "vout", "value", "block_height", "status", "spent_by_txid", "hold")
    list_filter = ("status", "wallet")
    list_select_related = ("wallet",)
    search_fields = ("txid", "spent_by_txid")
    exclude = ("script_pubkey",)

    @admin.display(description="value", ordering="value_sats")
    def value(self, utxo: WalletUtxo) -> str:
        return btc(utxo.value_sats)

    def get_queryset(self, request: HttpRequest) -> QuerySet[WalletUtxo]:
        return super().get_queryset(request).annotate(frozen=Exists(live_freezes().filter(utxo=OuterRef("pk"))))

    @admin.display(description="hold")
    def hold(self, utxo: WalletUtxo) -> str:
        label = "frozen · Unfreeze…" if utxo.frozen else "Freeze…"  # type: ignore[attr-defined]
        return format_html('<a href="{}">{}</a>', reverse("admin:reserve_walletutxo_freeze", args=[utxo.pk]), label)

    def get_urls(self) -> list[URLPattern]:
        freeze = self.admin_site.admin_view(self.freeze_view)
        return [path("<path:object_id>/freeze/", freeze, name="reserve_walletutxo_freeze"), *super().get_urls()]

    def freeze_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Freeze a coin out of every coin selection, or release it, with a reason (audited)."""
        if not request.user.has_perm("reserve.freeze_utxo"):
            raise PermissionDenied
        utxo = get_object_or_404(WalletUtxo, pk=unquote(object_id))
        frozen = live_freezes().filter(utxo=utxo).exists()
        form = FreezeForm(request.POST) if request.method == "POST" else FreezeForm()
        if request.method == "POST" and form.is_valid():
            change = utxo_unfreeze if frozen else utxo_freeze
            try:
                change(utxo_id=utxo.pk, actor=request.user, reason=form.cleaned_data["reason"])
            except ApplicationError as error:
                refuse(error)
                show_service_error(form, error)
            else:
                messages.success(request, f"Coin {utxo.txid}:{utxo.vout} {'released' if frozen else 'frozen'}.")
                return redirect("admin:reserve_walletutxo_changelist")
        return admin_page(
            request,
            model_admin=self,
            template="reserve/admin/form_page.html",
            title=f"{'Unfreeze' if frozen else 'Freeze'} coin {utxo.txid}:{utxo.vout}",
            context={
                "form": form,
                "intro": f"{btc(utxo.value_sats)} in wallet {utxo.wallet}: "
                + ("frozen coins are never selected for a PSBT." if not frozen else "it is frozen now."),
                "submit_label": "Unfreeze" if frozen else "Freeze",
            },
            status=400 if form.errors else 200,
        )


class ResolveForm(StyledForm):
    reason = forms.CharField(widget=forms.Textarea, help_text="Why the difference is settled; kept in the audit trail")
    adjustment_btc = forms.CharField(
        label="Ledger adjustment (BTC)",
        required=False,
        help_text="Only if the books must change: positive when the wallet holds more than the books, "
        "negative when less. Posted against equity:reconciliation-adjustments.",
    )

    def adjustment_sats(self) -> int | None:
        text = self.cleaned_data["adjustment_btc"].strip()
        if not text:
            return None
        negative = text.startswith("-")
        sats = btc_to_sats(value=text.lstrip("-"), field="adjustment_btc")
        return -sats if negative else sats


@admin.register(Discrepancy)
class DiscrepancyAdmin(ReadOnlyAdmin):
    list_display = ("id", "wallet", "kind", "status_label", "txid", "books", "chain", "created_at", "resolve_link")
    list_filter = ("status", "kind", "wallet")
    list_select_related = ("wallet",)
    search_fields = ("txid", "detail", "resolution_reason")
    change_form_outer_before_template = "reserve/admin/discrepancy_panel.html"

    @display(description="status", ordering="status", label={"open": "warning", "resolved": "success"})
    def status_label(self, discrepancy: Discrepancy) -> str:
        return discrepancy.status

    @admin.display(description="books")
    def books(self, discrepancy: Discrepancy) -> str:
        return _btc_or_dash(discrepancy.expected_sats)

    @admin.display(description="chain")
    def chain(self, discrepancy: Discrepancy) -> str:
        return _btc_or_dash(discrepancy.actual_sats)

    @admin.display(description="")
    def resolve_link(self, discrepancy: Discrepancy) -> str:
        if discrepancy.status != DiscrepancyStatus.OPEN:
            return ""
        return format_html(
            '<a href="{}">Resolve…</a>', reverse("admin:reserve_discrepancy_resolve", args=[discrepancy.pk])
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> Any:
        """The discrepancy's page says what it means and, while open, resolves it in place."""
        discrepancy = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if discrepancy is not None:
            context["discrepancy"] = discrepancy
            context["can_resolve"] = discrepancy.status == DiscrepancyStatus.OPEN and request.user.has_perm(
                "reserve.resolve_discrepancy"
            )
        return super().change_view(request, object_id, form_url, extra_context=context)

    def get_urls(self) -> list[URLPattern]:
        resolve = self.admin_site.admin_view(self.resolve_view)
        return [path("<path:object_id>/resolve/", resolve, name="reserve_discrepancy_resolve"), *super().get_urls()]

    def resolve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Resolve with a reason (and an optional adjustment); the service checks the role."""
        if not request.user.has_perm("reserve.resolve_discrepancy"):
            raise PermissionDenied
        discrepancy = get_object_or_404(Discrepancy, pk=unquote(object_id))
        form = ResolveForm(request.POST) if request.method == "POST" else ResolveForm()
        if request.method == "POST" and form.is_valid():
            try:
                discrepancy_resolve(
                    discrepancy=discrepancy,
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                    adjustment_sats=form.adjustment_sats(),
                )
            except ApplicationError as error:
                refuse(error)
                show_service_error(form, error, aliases={"adjustment_sats": "adjustment_btc"})
            else:
                messages.success(request, f"Discrepancy #{discrepancy.pk} resolved.")
                return redirect("admin:reserve_discrepancy_change", discrepancy.pk)
        context: dict[str, Any] = {
            "form": form,
            "intro": f"{discrepancy.get_kind_display()} in wallet {discrepancy.wallet}: {discrepancy.detail}",
            "submit_label": "Resolve",
        }
        return admin_page(
            request,
            model_admin=self,
            template="reserve/admin/form_page.html",
            title=f"Resolve discrepancy #{discrepancy.pk}",
            context=context,
            status=400 if form.errors else 200,
        )
