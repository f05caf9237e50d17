"""The category vocabulary in the admin: a policy administrator proposes a term with its legal
reference; two others approve it (the action), and only then can transfers and rules use it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from config.errors import ApplicationError
from policy.models import Category
from policy.permissions import DRAFT_VERSION
from policy.services import category_approve, category_propose
from reserve.admin.common import ServiceAddAdmin, StyledForm, refuse, signed_in_user
from reserve.admin.policy import PolicyReadAdmin


class CategoryProposalForm(StyledForm):
    code = forms.CharField(max_length=32, help_text="lower-case letters, digits and _, e.g. escheat")
    kind = forms.ChoiceField(choices=Category.Kind.choices)
    legal_reference = forms.CharField(max_length=255, help_text="The act, order or section that defines it")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    involuntary = forms.BooleanField(required=False, help_text="Received without the reserve acting (dust, gifts)")


@admin.register(Category)
class CategoryAdmin(ServiceAddAdmin, PolicyReadAdmin):
    add_permission = DRAFT_VERSION
    add_form = CategoryProposalForm
    add_intro = (
        "A new category is usable by transfers and rules once two policy administrators other than its author "
        "approve it; approved, it never changes."
    )
    list_display = ("code", "kind", "status", "legal_reference", "involuntary", "author")
    list_filter = ("status", "kind", "involuntary")
    search_fields = ("code", "legal_reference", "description")
    actions = ("approve",)  # type: ignore[assignment]  # ReadOnlyAdmin offers none

    def create(self, request: HttpRequest, form: Any) -> Model:
        return category_propose(**form.cleaned_data, author=signed_in_user(request))

    @admin.action(description="Approve the selected categories")
    def approve(self, request: HttpRequest, queryset: QuerySet[Category]) -> None:
        for category in queryset:
            try:
                approved = category_approve(category=category, approver=signed_in_user(request))
            except ApplicationError as error:
                refuse(error)
                messages.error(request, f"Category {category.code}: {error.message}")
            else:
                messages.success(request, f"Approval recorded; category {approved.code} is {approved.status}.")
