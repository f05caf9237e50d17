"""Agencies, counterparties and custody wallets: registration through the services, with the
first derived addresses shown for the operator to check before a wallet is saved."""

from __future__ import annotations

from typing import Any

import segno
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from unfold.admin import TabularInline

from config.errors import ApplicationError, ValidationFailed
from ledger.idempotency import request_hash
from ledger.selectors import balances_now
from reserve.admin.charts import holdings_svg
from reserve.admin.common import (
    ReadOnlyAdmin,
    ServiceAddAdmin,
    StyledForm,
    admin_page,
    refuse,
    replace_posted,
    show_service_error,
)
from reserve.custody.addresses import parse_address
from reserve.custody.descriptors import descriptor_preview
from reserve.custody.models import (
    Agency,
    AgencyKind,
    Counterparty,
    CounterpartyKind,
    Network,
    Wallet,
    WalletDescriptor,
    WalletKind,
    WatchedScript,
)
from reserve.custody.services import agency_create, counterparty_create, wallet_register, wallet_update
from reserve.reconciliation.services import reconciliation_request
from reserve.reports.holdings_chart import wallet_holdings_chart
from reserve.reports.labels_import import IMPORT_PERMISSION, labels_import
from reserve.reports.wallet_page import wallet_page
from reserve.templatetags.reserve_admin import btc

PREVIEW_COUNT = 5


def _qr_svg(address: str | None) -> str:
    """The address as a QR code (inline SVG, no script); upper case, as BIP 173 advises for QR."""
    if address is None:
        return ""
    return mark_safe(segno.make(address.upper(), error="m").svg_inline(scale=4, title=address))  # noqa: S308 - segno's own markup


class AgencyForm(StyledForm):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=AgencyKind.choices, initial=AgencyKind.OTHER)
    jurisdiction = forms.CharField(max_length=64, required=False)


@admin.register(Agency)
class AgencyAdmin(ServiceAddAdmin):
    add_permission = "reserve.add_agency"
    add_form = AgencyForm
    add_intro = "The holding entity (ministry, central bank, reserve fund, law-enforcement agency)."
    list_display = ("name", "kind", "jurisdiction", "wallet_count", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "jurisdiction")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Agency]:
        return super().get_queryset(request).prefetch_related("wallets")

    @admin.display(description="wallets")
    def wallet_count(self, agency: Agency) -> int:
        return len(agency.wallets.all())

    def create(self, request: HttpRequest, form: Any) -> Model:
        return agency_create(actor=request.user, **form.cleaned_data)


class CounterpartyForm(StyledForm):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=CounterpartyKind.choices, initial=CounterpartyKind.OTHER)
    reference = forms.CharField(max_length=200, required=False, help_text="Registration, case or contract number")


@admin.register(Counterparty)
class CounterpartyAdmin(ServiceAddAdmin):
    add_permission = "reserve.add_counterparty"
    add_form = CounterpartyForm
    add_intro = "A party outside the perimeter that transfers come from or go to."
    list_display = ("name", "kind", "reference", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "reference")

    def create(self, request: HttpRequest, form: Any) -> Model:
        return counterparty_create(actor=request.user, **form.cleaned_data)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class WalletRegistrationForm(StyledForm):
    name = forms.CharField(max_length=120)
    agency = forms.ModelChoiceField(queryset=Agency.objects.all())
    kind = forms.ChoiceField(choices=WalletKind.choices)
    network = forms.ChoiceField(choices=Network.choices)
    in_perimeter = forms.BooleanField(
        required=False, initial=True, help_text="Counts as public-sector holdings (policy caps apply)"
    )
    birthday_height = forms.IntegerField(min_value=0, initial=0, help_text="First block that can pay the wallet")
    gap_limit = forms.IntegerField(min_value=1, max_value=1000, initial=20, help_text="Addresses derived ahead")
    descriptors = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text="Descriptors with xpub/tpub keys, one per line, e.g. wpkh([fingerprint/84h/0h/0h]xpub…/<0;1>/*)",
    )
    addresses = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text="Single addresses, one per line",
    )
    previewed = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        super().clean()
        if not _lines(self.cleaned_data.get("descriptors", "")) and not _lines(self.cleaned_data.get("addresses", "")):
            self.add_error("descriptors", "give at least one descriptor or address")
        return self.cleaned_data

    def digest(self) -> str:
        """What the operator saw in the preview: saving anything else needs a new preview."""
        fields = {name: str(value) for name, value in self.cleaned_data.items() if name != "previewed"}
        return request_hash(fields)


def _address_preview(form: WalletRegistrationForm) -> dict[str, Any]:
    """The first addresses of each descriptor and the checked single addresses, or errors on the form."""
    network = form.cleaned_data["network"]
    descriptors, addresses = [], []
    for position, text in enumerate(_lines(form.cleaned_data["descriptors"])):
        try:
            derived = descriptor_preview(descriptor=text, network=network, count=PREVIEW_COUNT)
        except ValidationFailed as error:
            message = next(iter(error.fields.values()), [error.message])[0]
            show_service_error(form, ValidationFailed.for_field(f"descriptors[{position}]", message))
            continue
        descriptors.append({"text": text, "addresses": derived})
    for position, text in enumerate(_lines(form.cleaned_data["addresses"])):
        try:
            addresses.append(parse_address(address=text, network=network, field=f"addresses[{position}]"))
        except ValidationFailed as error:
            show_service_error(form, error)
    return {"descriptors": descriptors, "addresses": addresses}


class WalletSettingsForm(StyledForm):
    # No agency or perimeter field: membership changes by proposal and approval (WalletMembershipAdmin).
    birthday_height = forms.IntegerField(min_value=0)
    gap_limit = forms.IntegerField(min_value=1, max_value=1000)


class DescriptorInline(TabularInline):
    model = WalletDescriptor
    fields = ("descriptor", "kind", "is_ranged", "next_index", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Wallet)
class WalletAdmin(ServiceAddAdmin):
    add_permission = "reserve.add_wallet"
    list_display = ("name", "agency", "kind", "network", "in_perimeter", "published", "balance", "script_count")
    list_filter = ("network", "kind", "in_perimeter", "agency")
    search_fields = ("name", "agency__name")
    readonly_fields = ("balance", "holdings_chart", "ledger_account_link", "script_count")
    fields = (
        "name",
        "agency",
        "kind",
        "network",
        "in_perimeter",
        "published",
        "birthday_height",
        "gap_limit",
        "balance",
        "holdings_chart",
        "ledger_account_link",
        "script_count",
        "created_by",
        "created_at",
    )
    inlines = (DescriptorInline,)
    change_form_outer_before_template = "reserve/admin/wallet_page.html"

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/settings/",
                self.admin_site.admin_view(self.settings_view),
                name="reserve_wallet_settings",
            ),
            path(
                "<path:object_id>/reconcile/",
                self.admin_site.admin_view(self.reconcile_view),
                name="reserve_wallet_reconcile",
            ),
            path(
                "<path:object_id>/labels/",
                self.admin_site.admin_view(self.labels_view),
                name="reserve_wallet_labels",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> Any:
        wallet = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if wallet is not None and request.user.has_perm("reserve.change_wallet"):
            context["settings_form"] = WalletSettingsForm(
                initial={
                    "birthday_height": wallet.birthday_height,
                    "gap_limit": wallet.gap_limit,
                }
            )
        if wallet is not None:
            context["wallet"] = wallet
            context["page"] = wallet_page(wallet)
            context["receive_qr"] = _qr_svg(context["page"]["receive_address"])
            context["can_reconcile"] = request.user.has_perm("reserve.request_reconciliation")
            context["can_import_labels"] = request.user.has_perm(IMPORT_PERMISSION)
        return super().change_view(request, object_id, form_url, extra_context=context)

    def settings_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Birthday and gap limit, through wallet_update (which derives further ahead)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("reserve.change_wallet"):
            raise PermissionDenied
        wallet = get_object_or_404(Wallet, pk=unquote(object_id))
        form = WalletSettingsForm(request.POST)
        if not form.is_valid():
            messages.error(request, f"Not changed: {form.errors.as_text()}")
            return redirect("admin:reserve_wallet_change", wallet.pk)
        try:
            wallet_update(wallet=wallet, actor=request.user, **form.cleaned_data)
        except ApplicationError as error:
            refuse(error)
            messages.error(request, f"Not changed: {error.message}")
        else:
            messages.success(request, f"Wallet “{wallet.name}” updated.")
        return redirect("admin:reserve_wallet_change", wallet.pk)

    def reconcile_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """ "Reconcile now": the wallet's reconciliation task through the outbox; the page then
        shows the request (waiting or sent) and the runs that follow."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        wallet = get_object_or_404(Wallet, pk=unquote(object_id))
        try:
            message = reconciliation_request(wallet=wallet, actor=request.user)
        except ApplicationError as error:
            refuse(error)
            messages.error(request, f"Not requested: {error.message}")
        else:
            messages.success(request, f"Reconciliation of “{wallet.name}” requested (outbox message {message.pk}).")
        return redirect("admin:reserve_wallet_change", wallet.pk)

    def labels_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A BIP-329 file uploaded from the wallet page, through the API's import (`labels_import`)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        wallet = get_object_or_404(Wallet, pk=unquote(object_id))
        upload = request.FILES.get("labels")
        try:
            if upload is None:
                raise ValidationFailed.for_field("labels", "choose a BIP-329 file (JSON Lines)")
            try:
                text = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationFailed.for_field("labels", "the file is not UTF-8 text") from None
            result = labels_import(wallet=wallet, text=text, actor=request.user)
        except ApplicationError as error:
            refuse(error)
            messages.error(request, f"No label imported: {error.message}")
        else:
            messages.success(request, f"{result.records} label records read, {result.changed} changed.")
        return redirect("admin:reserve_wallet_change", wallet.pk)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Wallet]:
        return super().get_queryset(request).select_related("agency", "ledger_account")

    @admin.display(description="holdings over time")
    def holdings_chart(self, wallet: Wallet) -> str:
        return holdings_svg(wallet_holdings_chart(wallet=wallet))

    @admin.display(description="balance")
    def balance(self, wallet: Wallet) -> str:
        account = wallet.ledger_account
        booked = balances_now(accounts=[account])[account.pk]
        reserved = booked - balances_now(accounts=[account], available=True)[account.pk]
        return btc(booked) + (f" ({btc(reserved)} reserved)" if reserved else "")

    @admin.display(description="ledger account")
    def ledger_account_link(self, wallet: Wallet) -> str:
        url = reverse("admin:ledger_account_change", args=[wallet.ledger_account_id])
        return format_html('<a href="{}">{}</a>', url, wallet.ledger_account.code)

    @admin.display(description="watched scripts")
    def script_count(self, wallet: Wallet) -> int:
        return wallet.watched_scripts.count()

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None) -> Any:
        """Two steps: "Preview addresses" derives the first addresses; "Register wallet" saves
        exactly what was previewed (changed input goes back to the preview)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = WalletRegistrationForm(request.POST) if request.method == "POST" else WalletRegistrationForm()
        preview = None
        if request.method == "POST" and form.is_valid():
            preview = _address_preview(form)
            if not form.errors and "_register" in request.POST:
                if form.cleaned_data["previewed"] != form.digest():
                    messages.warning(request, "The input changed since the preview: check these addresses again.")
                else:
                    response = self._register(request, form)
                    if response is not None:
                        return response
            if form.errors:
                preview = None
            else:
                replace_posted(form, previewed=form.digest())
        return admin_page(
            request,
            model_admin=self,
            template="reserve/admin/wallet_register.html",
            title="Register a custody wallet",
            context={"form": form, "preview": preview, "preview_count": PREVIEW_COUNT},
            status=400 if form.errors else 200,
        )

    def _register(self, request: HttpRequest, form: WalletRegistrationForm) -> HttpResponse | None:
        data = form.cleaned_data
        try:
            wallet = wallet_register(
                name=data["name"],
                agency=data["agency"],
                kind=data["kind"],
                network=data["network"],
                in_perimeter=data["in_perimeter"],
                birthday_height=data["birthday_height"],
                gap_limit=data["gap_limit"],
                descriptors=_lines(data["descriptors"]),
                addresses=_lines(data["addresses"]),
                actor=request.user,
            )
        except ApplicationError as error:
            refuse(error)
            show_service_error(form, error)
            return None
        messages.success(
            request, f"Wallet “{wallet.name}” registered with {wallet.watched_scripts.count()} watched scripts."
        )
        return redirect("admin:reserve_wallet_change", wallet.pk)


@admin.register(WatchedScript)
class WatchedScriptAdmin(ReadOnlyAdmin):
    list_display = ("address", "wallet", "derivation_path", "chain", "index", "used")
    list_filter = ("used", "chain", "wallet__network", "wallet")
    search_fields = ("address", "wallet__name", "derivation_path")
    list_select_related = ("wallet",)
    fields = ("wallet", "descriptor", "address", "script_pubkey_hex", "derivation_path", "chain", "index", "used")
    readonly_fields = ("script_pubkey_hex",)
