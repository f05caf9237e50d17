"""Transfers in the admin: proposal with the policy's dry run shown before submit; approve /
reject / cancel (and the operator's record of broadcast or failure) as buttons beside the quorum
progress; the uploads of historical transfers and price quotes, proposed as import batches."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import URLPattern, path, reverse
from unfold.decorators import display

from config.errors import ApplicationError, Conflict
from policy.selectors import category_choices, involuntary_category_codes
from reserve.admin.common import (
    ReadOnlyAdmin,
    ServiceAdmin,
    StyledForm,
    admin_page,
    refuse,
    show_service_error,
)
from reserve.admin.imports import csv_import_page
from reserve.admin.signing import signing_context, signing_urls
from reserve.common.amounts import btc_to_sats
from reserve.compliance.changes import decision_json
from reserve.compliance.lots import lots_report
from reserve.custody.models import Counterparty, Wallet
from reserve.imports.models import ImportKind
from reserve.pricing.models import PriceQuote
from reserve.templatetags.reserve_admin import btc
from reserve.transfers.funds import transfer_funds_standing
from reserve.transfers.involuntary import (
    involuntary_mark_approve,
    involuntary_mark_decidable,
    involuntary_mark_propose,
    involuntary_mark_reject,
    involuntary_markable,
)
from reserve.transfers.lifecycle import transfer_actions
from reserve.transfers.models import Approval, Transfer, TransferDirection, TransferStatus
from reserve.transfers.preview import transfer_dry_run, transfer_policy_preview
from reserve.transfers.selectors import involuntary_mark_open, transfer_quorum_progress
from reserve.transfers.services import (
    transfer_approve,
    transfer_cancel,
    transfer_mark_broadcast,
    transfer_mark_failed,
    transfer_reject,
    transfer_submit,
)

AMOUNT_ALIASES = {"amount_sats": "amount_btc", "fee_sats": "fee_btc"}
STATUS_LABELS = {
    TransferStatus.PENDING_APPROVAL: "warning",
    TransferStatus.APPROVED: "info",
    TransferStatus.BROADCAST: "info",
    TransferStatus.CONFIRMED: "success",
    TransferStatus.FINAL: "success",
    TransferStatus.REJECTED: "danger",
    TransferStatus.FAILED: "danger",
    TransferStatus.REORGED: "danger",
}
DECISIONS = {
    "approve": ("reserve.approve_transfer", "approved"),
    "reject": ("reserve.approve_transfer", "rejected"),
    "cancel": ("reserve.propose_transfer", "cancelled"),
    "broadcast": ("reserve.execute_transfer", "marked broadcast"),
    "fail": ("reserve.execute_transfer", "marked failed"),
    "involuntary": ("reserve.execute_transfer", "proposed as involuntary"),
    "involuntary_approve": ("reserve.approve_transfer", "marked involuntary"),
    "involuntary_reject": ("reserve.approve_transfer", "rejected as involuntary"),
}
INVOLUNTARY_DONE = {
    "involuntary": "Involuntary mark proposed: the category changes when another person approves.",
    "involuntary_approve": "Involuntary mark approved.",
    "involuntary_reject": "Involuntary mark rejected: the category is unchanged.",
}


def open_lot_choices() -> list[tuple[str, list[tuple[int, str]]]]:
    """The lots with something left, grouped by wallet, oldest first: what a proposal may name."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for lot in lots_report(held=True):
        label = f"lot #{lot.pk}: {btc(lot.left_sats)} left of {lot.category}, acquired {lot.acquired_at:%Y-%m-%d}"  # type: ignore[attr-defined]
        groups.setdefault(lot.wallet.name, []).append((lot.pk, label))
    return list(groups.items())


class LotsField(forms.TypedMultipleChoiceField):
    """Lot ids, judged by the transfer service (`lots_choice_check`) rather than by the choices on
    the page: a lot of another wallet, or one with nothing left by now, is refused there naming `lots`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(coerce=int, choices=open_lot_choices, widget=forms.CheckboxSelectMultiple, **kwargs)

    def valid_value(self, value: Any) -> bool:
        return True


class TransferProposalForm(StyledForm):
    direction = forms.ChoiceField(choices=TransferDirection.choices)
    category = forms.ChoiceField(choices=category_choices)
    amount_btc = forms.CharField(label="Amount (BTC)", help_text="Up to 8 decimal places, e.g. 0.25")
    fee_btc = forms.CharField(label="Network fee (BTC)", initial="0", help_text="0 for inbound transfers")
    source_wallet = forms.ModelChoiceField(queryset=Wallet.objects.all(), required=False)
    destination_wallet = forms.ModelChoiceField(queryset=Wallet.objects.all(), required=False)
    external_address = forms.CharField(max_length=100, required=False, help_text="Outbound: the address paid")
    counterparty = forms.ModelChoiceField(queryset=Counterparty.objects.all(), required=False)
    provenance_reference = forms.CharField(
        max_length=255, required=False, help_text="Court order, purchase contract, mining site, ..."
    )
    memo = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    lots = LotsField(
        required=False,
        label="Lots (specific identification)",
        help_text="Outbound or internal: the source wallet's lots the transfer takes, oldest first; none: FIFO",
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput)

    def service_fields(self) -> dict[str, Any]:
        """transfer_create's keyword arguments; a bad amount raises ValidationFailed naming its field."""
        data = self.cleaned_data
        return {
            "direction": data["direction"],
            "category": data["category"],
            "amount_sats": btc_to_sats(value=data["amount_btc"], field="amount_btc"),
            "fee_sats": btc_to_sats(value=data["fee_btc"] or "0", field="fee_btc", allow_zero=True),
            "source_wallet": data["source_wallet"],
            "destination_wallet": data["destination_wallet"],
            "external_address": data["external_address"],
            "counterparty": data["counterparty"],
            "provenance_reference": data["provenance_reference"],
            "memo": data["memo"],
            "lots": data["lots"],
        }


@admin.register(Transfer)
class TransferAdmin(ServiceAdmin):
    add_permission = "reserve.propose_transfer"
    list_display = (
        "number",
        "status_label",
        "direction",
        "category",
        "amount",
        "source_wallet",
        "destination",
        "quorum",
        "proposer",
        "proposed_at",
        "memo",
    )
    list_filter = ("status", "direction", "category", "observed")
    search_fields = ("txid", "provenance_reference", "external_address", "memo")
    list_select_related = ("source_wallet", "destination_wallet", "counterparty", "proposer")
    change_form_outer_before_template = "reserve/admin/transfer_decision.html"
    list_before_template = "reserve/admin/import_link.html"
    fieldsets = (
        (None, {"fields": ("status", "status_reason", "direction", "category", "provenance_reference", "memo")}),
        ("Amounts", {"fields": ("amount", "fee", "fiat_value", "fiat_currency")}),
        ("Ends", {"fields": ("source_wallet", "destination_wallet", "external_address", "counterparty")}),
        ("Chain", {"fields": ("txid", "vout", "block_height", "block_hash", "occurred_at", "observed")}),
        (
            "Life",
            {
                "fields": (
                    "proposer",
                    "created_at",
                    "proposed_at",
                    "approved_at",
                    "broadcast_at",
                    "confirmed_at",
                    "finalized_at",
                    "closed_at",
                )
            },
        ),
    )
    readonly_fields = ("amount", "fee")

    @admin.display(description="#", ordering="id")
    def number(self, transfer: Transfer) -> str:
        return f"#{transfer.pk}"

    @display(description="status", ordering="status", label=STATUS_LABELS)
    def status_label(self, transfer: Transfer) -> str:
        return transfer.status

    @admin.display(description="amount", ordering="amount_sats")
    def amount(self, transfer: Transfer) -> str:
        return btc(transfer.amount_sats)

    @admin.display(description="fee")
    def fee(self, transfer: Transfer) -> str:
        return btc(transfer.fee_sats)

    @admin.display(description="to")
    def destination(self, transfer: Transfer) -> str:
        return str(transfer.destination_wallet or transfer.counterparty or transfer.external_address or "—")

    @admin.display(description="approvals")
    def quorum(self, transfer: Transfer) -> str:
        if transfer.status != TransferStatus.PENDING_APPROVAL:
            return ""
        progress = transfer_quorum_progress(transfer=transfer)
        return f"{progress.approvals} / {progress.required}"

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.import_view), name="reserve_transfer_import"),
            *signing_urls(wrap),
            *(
                path(
                    f"<path:object_id>/{action}/",
                    wrap(self.decide_view),
                    {"action": action},
                    name=f"reserve_transfer_{action}",
                )
                for action in DECISIONS
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        context = {
            **(extra_context or {}),
            "import_url": reverse("admin:reserve_transfer_import"),
            "import_label": "Import historical transfers (CSV)",
            "can_import": request.user.has_perm("reserve.import_transfers"),
        }
        return super().changelist_view(request, extra_context=context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> Any:
        transfer = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if transfer is not None:
            context.update(self._decision_context(request, transfer))
        return super().change_view(request, object_id, form_url, extra_context=context)

    def _decision_context(self, request: HttpRequest, transfer: Transfer) -> dict[str, Any]:
        user = request.user
        approvals = list(transfer.approvals.select_related("approver"))
        progress = transfer_quorum_progress(transfer=transfer)
        pending = transfer.status == TransferStatus.PENDING_APPROVAL
        actions = transfer_actions(transfer=transfer, user=user)
        reservation = transfer.pending
        open_mark = involuntary_mark_open(transfer=transfer)
        return {
            "transfer": transfer,
            "approvals": approvals,
            "progress": progress,
            "progress_percent": min(100, progress.approvals * 100 // max(progress.required, 1)),
            "progress_label": f"{progress.approvals} of {progress.required}",
            "show_decision": actions["approve"].offered,
            "decision_blocked": actions["approve"].refusal,
            "can_cancel": actions["cancel"].allowed,
            # The custodian signs and sends outside the system; operators record what happened.
            "can_mark_broadcast": actions["mark_broadcast"].allowed,
            "can_mark_failed": actions["mark_failed"].allowed,
            "involuntary_choices": [
                (code, label) for code, label in category_choices() if code in involuntary_category_codes()
            ]
            if open_mark is None and involuntary_markable(transfer) and user.has_perm("reserve.execute_transfer")
            else [],
            "involuntary_open": open_mark,
            "involuntary_decide": open_mark is not None and involuntary_mark_decidable(mark=open_mark, user=user),
            "policy": transfer.policy_preview,
            # Facts move between proposal and approval: approvers also see the policy as of now.
            "policy_now": decision_json(transfer_policy_preview(transfer=transfer)) if pending else None,
            # and what the source wallet has available, beside their decision
            "source_funds": transfer_funds_standing(transfer) if pending else None,
            "reservation": reservation,
            "reservation_entries": list(reservation.entries.select_related("account")) if reservation else [],
            **signing_context(transfer, user),
        }

    def decide_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """Approve, reject, cancel, mark broadcast or failed (POST only); the services decide who
        may and when."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        permission, done = DECISIONS[action]
        if not request.user.has_perm(permission):
            raise PermissionDenied
        transfer = get_object_or_404(Transfer, pk=unquote(object_id))
        text = request.POST.get("comment", "")
        try:
            if action == "approve":
                transfer = transfer_approve(transfer=transfer, actor=request.user, comment=text)
            elif action == "reject":
                transfer = transfer_reject(transfer=transfer, actor=request.user, comment=text)
            elif action == "cancel":
                transfer = transfer_cancel(transfer=transfer, actor=request.user, reason=text)
            elif action == "broadcast":
                transfer = transfer_mark_broadcast(transfer=transfer, actor=request.user, txid=text)
            elif action.startswith("involuntary"):
                _involuntary_decide(transfer, action=action, request=request, text=text)
            else:
                transfer = transfer_mark_failed(transfer=transfer, actor=request.user, reason=text)
        except ApplicationError as error:
            refuse(error)
            messages.error(request, f"Not {done}: {error.message}")
        else:
            if action == "approve" and transfer.status == TransferStatus.PENDING_APPROVAL:
                progress = transfer_quorum_progress(transfer=transfer)
                messages.success(
                    request, f"Approval recorded: {progress.approvals} of {progress.required} {progress.role}s."
                )
            elif action in INVOLUNTARY_DONE:
                messages.success(request, INVOLUNTARY_DONE[action])
            else:
                messages.success(request, f"Transfer #{transfer.pk} is {transfer.status}, {transfer.category}.")
        return redirect("admin:reserve_transfer_change", transfer.pk)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None) -> Any:
        """Form -> "Preview policy decision" (a dry run, nothing stored) -> "Submit for approval"."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            form = TransferProposalForm(initial={"idempotency_key": uuid.uuid4().hex})
            return self._proposal_page(request, form)
        form = TransferProposalForm(request.POST)
        if not form.is_valid() or "_edit" in request.POST:
            return self._proposal_page(request, form)
        try:
            fields = form.service_fields()
            if "_submit" in request.POST:
                transfer = transfer_submit(
                    actor=request.user, idempotency_key=form.cleaned_data["idempotency_key"], **fields
                )
                messages.success(request, f"Transfer #{transfer.pk} proposed: it now needs approvals.")
                return redirect("admin:reserve_transfer_change", transfer.pk)
            decision = transfer_dry_run(actor=request.user, **fields)
        except ApplicationError as error:
            refuse(error)
            show_service_error(form, error, aliases=AMOUNT_ALIASES)
            return self._proposal_page(request, form)
        return self._proposal_page(request, form, decision=decision_json(decision), fields=fields)

    def _proposal_page(
        self,
        request: HttpRequest,
        form: TransferProposalForm,
        *,
        decision: dict[str, Any] | None = None,
        fields: dict[str, Any] | None = None,
    ) -> HttpResponse:
        return admin_page(
            request,
            model_admin=self,
            template="reserve/admin/transfer_propose.html",
            title="Preview the proposal" if decision else "Propose a transfer",
            context={"form": form, "decision": decision, "fields": fields},
            status=400 if form.errors else 200,
        )

    def import_view(self, request: HttpRequest) -> HttpResponse:
        return csv_import_page(
            request,
            model_admin=self,
            kind=ImportKind.TRANSFERS,
            permission="reserve.import_transfers",
            title="Import historical transfers",
            columns=(
                "Required: occurred_at, direction, category, amount_btc, txid, block_height. Optional: fee_btc, "
                "source_wallet, destination_wallet (wallet names), external_address, counterparty (name), "
                "provenance_reference, vout, block_hash, fiat_value, fiat_currency, memo. Lines in strictly "
                "increasing occurred_at order (ISO 8601 with a time zone)."
            ),
        )


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdmin):
    list_display = ("transfer", "approver", "decision", "comment", "at")
    list_filter = ("decision",)
    list_select_related = ("transfer", "approver")
    search_fields = ("approver__username", "comment")


@admin.register(PriceQuote)
class PriceQuoteAdmin(ReadOnlyAdmin):
    list_display = ("at", "currency", "price", "source", "imported_at")
    list_filter = ("currency", "source")
    date_hierarchy = "at"
    list_before_template = "reserve/admin/import_link.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[PriceQuote]:
        return super().get_queryset(request).order_by("-at")

    def get_urls(self) -> list[URLPattern]:
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="reserve_pricequote_import"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        context = {
            **(extra_context or {}),
            "import_url": reverse("admin:reserve_pricequote_import"),
            "import_label": "Import price quotes (CSV)",
            "can_import": request.user.has_perm("reserve.add_pricequote"),
        }
        return super().changelist_view(request, extra_context=context)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        return csv_import_page(
            request,
            model_admin=self,
            kind=ImportKind.PRICES,
            permission="reserve.add_pricequote",
            title="Import BTC price quotes",
            columns="Columns: time (ISO 8601 with a time zone), currency (ISO 4217), price (of 1 BTC), source.",
        )


def _involuntary_decide(transfer: Transfer, *, action: str, request: HttpRequest, text: str) -> None:
    """Propose an involuntary mark, or approve or reject the transfer's open one (the services
    refuse the proposer's own decision, a second proposal and a transfer no longer markable)."""
    if action == "involuntary":
        category = request.POST.get("category", "")
        involuntary_mark_propose(transfer=transfer, category=category, reason=text, actor=request.user)
        return
    mark = involuntary_mark_open(transfer=transfer)
    if mark is None:
        raise Conflict.for_field("transfer", "has no involuntary mark waiting for a decision")
    if action == "involuntary_approve":
        involuntary_mark_approve(mark=mark, actor=request.user, comment=text)
    else:
        involuntary_mark_reject(mark=mark, actor=request.user, comment=text)
