"""What every admin module shares: read-only and service-backed bases, unfold-styled forms,
service errors shown on the field they name, and custom pages drawn inside the admin."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Model
from django.http import HttpRequest, QueryDict
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.html import format_html
from unfold.admin import ModelAdmin
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminFileFieldWidget,
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
    UnfoldBooleanSwitchWidget,
)

from config.errors import ApplicationError
from config.errors import PermissionDenied as ServicePermissionDenied
from ledger.secrets import PRIVATE_KEY_EXPLANATION
from reserve.admin.export import CsvExportMixin

_INDEXED_FIELD = re.compile(r"^[a-z_]+\[(?P<index>\d+)\]$")


def json_block(value: object) -> str:
    """A stored JSON value (audit snapshots, evaluation lines) as readable, escaped text."""
    if value is None:
        return "—"
    text = json.dumps(value, indent=2, sort_keys=True, default=str)
    return format_html('<pre class="text-xs" style="white-space: pre-wrap">{}</pre>', text)


class ReadOnlyAdmin(CsvExportMixin, ModelAdmin):
    """Records nobody edits through the admin, superusers included: the ledger, the audit trail,
    stored evaluations. Viewing follows the model's view permission, and so does the list's CSV
    export (`reserve/admin/export.py`)."""

    actions = None

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class ServiceAdmin(ReadOnlyAdmin):
    """Records created and moved only by service functions: the admin's own add form and
    buttons call the service; the generic change and delete forms are never offered."""

    add_permission = ""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return bool(self.add_permission) and request.user.has_perm(self.add_permission)


class StyledForm(forms.Form):
    """A plain form drawn with unfold's widgets, so custom admin pages look like the rest."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget = _unfold_widget(field.widget)


def _unfold_widget(widget: forms.Widget) -> forms.Widget:
    attrs = dict(widget.attrs)
    if isinstance(widget, forms.Textarea):
        return UnfoldAdminTextareaWidget(attrs=attrs)
    if isinstance(widget, forms.CheckboxInput):
        return UnfoldBooleanSwitchWidget(attrs=attrs)
    if isinstance(widget, forms.CheckboxSelectMultiple):
        boxes = UnfoldAdminCheckboxSelectMultipleWidget(attrs=attrs)
        boxes.choices = widget.choices
        return boxes
    if isinstance(widget, forms.Select):
        styled = UnfoldAdminSelectWidget(attrs=attrs)
        styled.choices = widget.choices
        return styled
    if isinstance(widget, forms.NumberInput):
        return UnfoldAdminIntegerFieldWidget(attrs=attrs)
    if isinstance(widget, forms.FileInput):
        return UnfoldAdminFileFieldWidget(attrs=attrs)
    if isinstance(widget, forms.HiddenInput):
        return widget
    if isinstance(widget, forms.TextInput):
        return UnfoldAdminTextInputWidget(attrs=attrs)
    return widget


def show_service_error(form: forms.Form, error: ApplicationError, *, aliases: dict[str, str] | None = None) -> None:
    """Put a service's error on the form field it names ("descriptors[2]" -> descriptors, line 3).

    A refused private key is also wiped from the re-displayed form: the page must not echo it.
    """
    aliases = aliases or {}
    if not error.fields:
        form.add_error(None, error.message)
        return
    for name, field_messages in error.fields.items():
        base = re.split(r"[\[.]", name, maxsplit=1)[0]
        target = aliases.get(base, base)
        prefix = ""
        if match := _INDEXED_FIELD.match(name):
            prefix = f"line {int(match['index']) + 1}: "
        elif name != base:
            prefix = f"{name}: "
        if target not in form.fields:
            form.add_error(None, f"{name}: {'; '.join(field_messages)}")
            continue
        for message in field_messages:
            form.add_error(target, prefix + message)
        if any(PRIVATE_KEY_EXPLANATION in message for message in field_messages):
            _wipe(form, target)


def _wipe(form: forms.Form, field: str) -> None:
    replace_posted(form, **{form.add_prefix(field): ""})


def replace_posted(form: forms.Form, **values: str) -> None:
    """Change what a bound form re-displays (its data is the request's immutable QueryDict)."""
    data = cast(QueryDict, form.data).copy()
    for name, value in values.items():
        data[name] = value
    form.data = data


def signed_in_user(request: HttpRequest) -> User:
    """The user of an admin view (admin_site.admin_view lets only signed-in staff through)."""
    assert isinstance(request.user, User)
    return request.user


def admin_page(
    request: HttpRequest,
    *,
    model_admin: admin.ModelAdmin,
    template: str,
    title: str,
    context: dict[str, Any] | None = None,
    status: int = 200,
) -> TemplateResponse:
    """A custom page drawn inside the admin (sidebar, header, breadcrumbs of the model)."""
    opts = model_admin.model._meta
    page = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "app_label": opts.app_label,
        "title": title,
        "subtitle": None,
        **(context or {}),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, template, page, status=status)


def refuse(error: ApplicationError) -> None:
    """A service's permission refusal is the admin's 403; other errors are shown on the page.
    Either way what must outlive the refused work (a policy refusal's record) is written first.
    Every admin page that catches a service's error calls this."""
    error.settle()
    if isinstance(error, ServicePermissionDenied):
        raise DjangoPermissionDenied(error.message) from error


class ServiceAddAdmin(ServiceAdmin):
    """An add page that is a plain form whose valid input goes to one service function."""

    add_form: type[StyledForm]
    add_intro = ""
    error_aliases: dict[str, str] = {}

    # Each add page calls its service with the cleaned form: create(request, form) -> the new
    # record; an ApplicationError it raises is shown on the form.
    create: Callable[[HttpRequest, Any], Model]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None) -> Any:
        if not self.has_add_permission(request):
            raise DjangoPermissionDenied
        form = self.add_form(request.POST) if request.method == "POST" else self.add_form()
        if request.method == "POST" and form.is_valid():
            try:
                created = self.create(request, form)
            except ApplicationError as error:
                refuse(error)
                show_service_error(form, error, aliases=self.error_aliases)
            else:
                opts = self.model._meta
                messages.success(request, f"{opts.verbose_name.capitalize()} “{created}” created.")
                return redirect(f"admin:{opts.app_label}_{opts.model_name}_change", created.pk)
        return admin_page(
            request,
            model_admin=self,
            template="reserve/admin/form_page.html",
            title=f"Add {self.model._meta.verbose_name}",
            context={"form": form, "intro": self.add_intro, "submit_label": "Save"},
            status=400 if form.errors else 200,
        )
