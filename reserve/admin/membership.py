"""Wallet membership (agency, perimeter): operators propose a change, a second person (an approver)
approves or rejects it; nothing on the wallet's own page changes either."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from config.errors import ApplicationError
from reserve.admin.common import ServiceAddAdmin, StyledForm, refuse
from reserve.custody.membership import membership_approve, membership_cancel, membership_propose, membership_reject
from reserve.custody.models import Agency, Wallet, WalletMembership

UNCHANGED, INSIDE, OUTSIDE = "", "in", "out"


class MembershipProposalForm(StyledForm):
    wallet = forms.ModelChoiceField(queryset=Wallet.objects.all())
    agency = forms.ModelChoiceField(
        queryset=Agency.objects.all(), required=False, help_text="Leave empty to keep the agency in force"
    )
    in_perimeter = forms.ChoiceField(
        choices=[(UNCHANGED, "unchanged"), (INSIDE, "in the perimeter"), (OUTSIDE, "outside the perimeter")],
        required=False,
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), help_text="The decree, order or decision")


@admin.register(WalletMembership)
class WalletMembershipAdmin(ServiceAddAdmin):
    add_permission = "reserve.propose_walletmembership"
    add_form = MembershipProposalForm
    add_intro = (
        "A wallet's agency or perimeter changes when a second person approves the proposal, from that moment on "
        "(never back-dated), and only while the wallet holds nothing: move its bitcoin by a transfer first."
    )
    list_display = ("wallet", "agency", "in_perimeter", "status", "effective_from", "proposed_by", "decided_by")
    list_filter = ("status", "in_perimeter", "agency")
    search_fields = ("wallet__name", "reason")
    list_select_related = ("wallet", "agency", "proposed_by", "decided_by")
    actions = ("approve", "reject", "cancel")  # type: ignore[assignment]  # ReadOnlyAdmin offers none

    def create(self, request: HttpRequest, form: Any) -> Model:
        data = form.cleaned_data
        side = data["in_perimeter"]
        return membership_propose(
            wallet=data["wallet"],
            agency=data["agency"],
            in_perimeter=None if side == UNCHANGED else side == INSIDE,
            reason=data["reason"],
            actor=request.user,
        )

    def _decide(
        self, request: HttpRequest, queryset: QuerySet[WalletMembership], decide: Callable[..., WalletMembership]
    ) -> None:
        for membership in queryset:
            try:
                decided = decide(membership=membership, actor=request.user)
            except ApplicationError as error:
                refuse(error)
                messages.error(request, f"Membership proposal {membership.pk}: {error.message}")
            else:
                messages.success(request, f"Membership proposal {decided.pk} is {decided.status}.")

    @admin.action(description="Approve the selected proposals")
    def approve(self, request: HttpRequest, queryset: QuerySet[WalletMembership]) -> None:
        self._decide(request, queryset, membership_approve)

    @admin.action(description="Reject the selected proposals")
    def reject(self, request: HttpRequest, queryset: QuerySet[WalletMembership]) -> None:
        self._decide(request, queryset, membership_reject)

    @admin.action(description="Cancel the selected proposals (proposer)")
    def cancel(self, request: HttpRequest, queryset: QuerySet[WalletMembership]) -> None:
        self._decide(request, queryset, membership_cancel)
