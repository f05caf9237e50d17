"""Pledges and liabilities in the admin: every role reads them; a policy administrator makes one
(the add form calls `pledge_make`), another approves it and it is released once, with buttons on
its page that call the services (which of them the page offers, the services say)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import URLPattern, path
from unfold.decorators import display

from config.errors import ApplicationError
from policy.permissions import DRAFT_VERSION, user_may
from reserve.admin.common import ServiceAddAdmin, StyledForm, refuse, signed_in_user
from reserve.admin.policy import PolicyReadAdmin
from reserve.common.amounts import btc_to_sats
from reserve.compliance.models import PLEDGE_STATUS_FILTERS, Pledge, PledgeKind, PledgeStatus
from reserve.compliance.pledge_services import (
    PLEDGE_DECISIONS,
    pledge_actions,
    pledge_approve,
    pledge_make,
    pledge_release,
)
from reserve.custody.models import Wallet
from reserve.templatetags.reserve_admin import btc

STATUS_LABELS = {PledgeStatus.MADE: "warning", PledgeStatus.ACTIVE: "info", PledgeStatus.RELEASED: "success"}


class PledgeForm(StyledForm):
    kind = forms.ChoiceField(choices=PledgeKind.choices)
    wallet = forms.ModelChoiceField(
        queryset=Wallet.objects.all(), required=False, help_text="Whose coins it holds; a liability may name none"
    )
    amount_btc = forms.CharField(label="Amount (BTC)", help_text="Up to 8 decimal places, e.g. 250")
    purpose = forms.CharField(max_length=200, help_text="e.g. collateral for the hydropower bond")
    reference = forms.CharField(max_length=200, help_text="The document that makes it")
    dated = forms.DateField(help_text="e.g. 2026-06-01")


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(status.value, status.label) for status in PledgeStatus]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Pledge]) -> QuerySet[Pledge]:
        value = self.value()
        return queryset.filter(PLEDGE_STATUS_FILTERS[PledgeStatus(value)]) if value in PledgeStatus.values else queryset


@admin.register(Pledge)
class PledgeAdmin(ServiceAddAdmin, PolicyReadAdmin):
    add_permission = DRAFT_VERSION
    add_form = PledgeForm
    add_intro = (
        "A pledge of a wallet's coins, a commitment to a purpose, or a bitcoin-linked liability counts against the "
        "policy once a policy administrator other than its maker approves it, until it is released."
    )
    error_aliases = {"amount_sats": "amount_btc"}
    list_display = (
        "number",
        "kind",
        "status_label",
        "wallet",
        "amount",
        "purpose",
        "reference",
        "dated",
        "made_by",
        "approved_by",
        "released_at",
    )
    list_filter = (StatusFilter, "kind", "wallet")
    list_select_related = ("wallet", "made_by", "approved_by")
    search_fields = ("purpose", "reference", "release_reference")
    change_form_outer_before_template = "reserve/admin/pledge_panel.html"
    fields = (
        "kind",
        "wallet",
        "amount",
        "purpose",
        "reference",
        "dated",
        "made_by",
        "made_at",
        "approved_by",
        "approved_at",
        "released_by",
        "released_at",
        "release_reference",
    )
    readonly_fields = ("amount",)

    @admin.display(description="#", ordering="id")
    def number(self, pledge: Pledge) -> str:
        return f"#{pledge.pk}"

    @display(description="status", label=STATUS_LABELS)
    def status_label(self, pledge: Pledge) -> str:
        return pledge.status

    @admin.display(description="amount", ordering="amount_sats")
    def amount(self, pledge: Pledge) -> str:
        return btc(pledge.amount_sats)

    def create(self, request: HttpRequest, form: Any) -> Model:
        fields = dict(form.cleaned_data)
        amount_sats = btc_to_sats(value=fields.pop("amount_btc"), field="amount_btc")
        return pledge_make(actor=signed_in_user(request), amount_sats=amount_sats, **fields)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            *(
                path(
                    f"<path:object_id>/{action}/",
                    wrap(self.decide_view),
                    {"action": action},
                    name=f"reserve_pledge_{action}",
                )
                for action in PLEDGE_DECISIONS
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> Any:
        pledge = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if pledge is not None:
            context.update({"pledge": pledge, "actions": pledge_actions(pledge=pledge, user=request.user)})
        return super().change_view(request, object_id, form_url, extra_context=context)

    def decide_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """Approve or release (POST only); the services decide who may and when."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not user_may(request.user, DRAFT_VERSION):
            raise PermissionDenied
        pledge = get_object_or_404(Pledge, pk=unquote(object_id))
        user = signed_in_user(request)
        try:
            if action == "approve":
                pledge = pledge_approve(pledge=pledge, approver=user)
            else:
                pledge = pledge_release(pledge=pledge, actor=user, reference=request.POST.get("reference", ""))
        except ApplicationError as error:
            refuse(error)
            messages.error(request, f"Not {'approved' if action == 'approve' else 'released'}: {error.message}")
        else:
            messages.success(request, f"Pledge #{pledge.pk} is {pledge.status.label}.")
        return redirect("admin:reserve_pledge_change", pledge.pk)
