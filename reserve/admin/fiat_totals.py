"""Fiat totals in the admin: every role reads them; a policy administrator records one (the add
form calls `fiat_total_record`). Never edited or deleted here: a correction is a new record."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from policy.permissions import DRAFT_VERSION
from reserve.admin.common import ServiceAddAdmin, StyledForm, signed_in_user
from reserve.admin.policy import PolicyReadAdmin
from reserve.compliance.models import FiatTotal
from reserve.compliance.services import fiat_total_record


class FiatTotalForm(StyledForm):
    name = forms.CharField(max_length=80, help_text="The name a policy gives it, e.g. public_funds")
    currency = forms.CharField(max_length=3, help_text="ISO 4217, e.g. USD")
    amount = forms.CharField(max_length=40, help_text="Positive, in whole cents, e.g. 2000000000.00")
    as_of = forms.DateTimeField(help_text="From when it is in force (UTC), e.g. 2026-12-31 00:00")
    reference = forms.CharField(max_length=200, help_text="The document it comes from")


@admin.register(FiatTotal)
class FiatTotalAdmin(ServiceAddAdmin, PolicyReadAdmin):
    add_permission = DRAFT_VERSION
    add_form = FiatTotalForm
    add_intro = (
        "A fiat total is a dated fact a policy's share cap reads (e.g. at most 5% of total public funds): "
        "the one in force at a time is the latest at or before it. Recorded, it never changes; record a "
        "correction as a new total."
    )
    list_display = ("name", "amount", "currency", "as_of", "reference", "recorded_by", "recorded_at")
    list_filter = ("name", "currency")
    list_select_related = ("recorded_by",)
    search_fields = ("name", "reference")
    date_hierarchy = "as_of"

    def create(self, request: HttpRequest, form: Any) -> Model:
        return fiat_total_record(actor=signed_in_user(request), **form.cleaned_data)
