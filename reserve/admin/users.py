"""Accounts in the admin's own style, with each user's roles and whether two-factor is set up
(who still lacks a confirmed TOTP device), and every change of flags or roles audited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group, User
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from config.errors import ApplicationError
from reserve.access.enrolment import ISSUE_PERMISSION, enrolment_code_issue
from reserve.access.roles import ROLES
from reserve.access.services import account_change_record, account_snapshot
from reserve.admin.export import CsvExportMixin

admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(CsvExportMixin, BaseUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    list_display = ("username", "email", "roles", "two_factor", "is_staff", "is_active", "last_login")
    list_filter = ("groups", "is_staff", "is_active", "is_superuser")
    actions = ("issue_enrolment_code",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        confirmed = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
        return super().get_queryset(request).prefetch_related("groups").annotate(has_totp=Exists(confirmed))

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        before = account_snapshot(form.initial) if change else None
        account_change_record(actor=request.user, user=form.instance, before=before)

    @admin.action(description="Issue a one-time two-factor enrolment code", permissions=["issue_enrolment_code"])
    def issue_enrolment_code(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        """Each code is shown once, here, for the administrator to hand over in person."""
        for user in queryset.order_by("username"):
            try:
                code = enrolment_code_issue(actor=request.user, user=user)
            except ApplicationError as error:
                self.message_user(request, f"{user.get_username()}: {error.message}", messages.ERROR)
            else:
                self.message_user(
                    request, f"Enrolment code for {user.get_username()} (valid 24 h, once): {code}", messages.WARNING
                )

    def has_issue_enrolment_code_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ISSUE_PERMISSION)

    @admin.display(description="roles")
    def roles(self, user: User) -> str:
        return ", ".join(group.name for group in user.groups.all() if group.name in ROLES) or "—"

    @admin.display(description="TOTP", boolean=True, ordering="has_totp")
    def two_factor(self, user: User) -> bool:
        return bool(getattr(user, "has_totp", False))


@admin.register(Group)
class GroupAdmin(CsvExportMixin, BaseGroupAdmin, ModelAdmin):
    pass
