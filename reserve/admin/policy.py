"""Policies in the admin: drafts written and approved by policy administrators through the
policy services, stored evaluations read-only, breaches shown first and resolved with a reason.

Every role may read policy records here; who may act is asked in policy's own permissions
(policy/permissions.py), the ones its services check.
"""

from __future__ import annotations

import json
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
from policy.models import Policy, PolicyBreach, PolicyEvaluation, PolicyVersion
from policy.permissions import APPROVE_VERSION, DRAFT_VERSION, RESOLVE_BREACH, user_may
from policy.selectors import policy_version_rules_in_words
from policy.services import policy_approve, policy_breach_resolve, policy_create_draft
from policy.types import SCOPE_KINDS, PolicyScope
from reserve.access.roles import user_roles
from reserve.admin.common import (
    ReadOnlyAdmin,
    StyledForm,
    admin_page,
    json_block,
    refuse,
    show_service_error,
    signed_in_user,
)
from reserve.admin.rule_builder import AddRuleForm, RuleBuilder
from reserve.compliance.selectors import policy_draft_warnings
from reserve.custody.models import Agency, Wallet
from reserve.templatetags.reserve_admin import btc


class PolicyReadAdmin(ReadOnlyAdmin):
    """Readable by every role (auditors included), writable by nobody through generic forms."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) or bool(user_roles(request.user))

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return super().has_view_permission(request, obj) or bool(user_roles(request.user))


@admin.register(Policy)
class PolicyAdmin(PolicyReadAdmin):
    list_display = ("name", "scope_label", "status")
    search_fields = ("name",)

    @admin.display(description="scope")
    def scope_label(self, policy: Policy) -> str:
        return policy.scope.label


class PolicyDraftForm(StyledForm):
    name = forms.CharField(max_length=200, help_text="A new name starts a policy; an existing one adds a version")
    scope_kind = forms.ChoiceField(choices=[(kind, kind) for kind in SCOPE_KINDS], label="Scope")
    agency = forms.ModelChoiceField(queryset=Agency.objects.all(), required=False, help_text="For an agency scope")
    wallet = forms.ModelChoiceField(queryset=Wallet.objects.all(), required=False, help_text="For a wallet scope")
    rules = forms.CharField(
        required=False,
        label="Rules as JSON",
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text='Instead of the builder: a JSON list of rules, e.g. [{"type": "holdings_cap", "params": '
        '{"max_sats": 100000000}}]. Leave it empty when you use the builder; both at once are refused.',
    )
    effective_from = forms.DateTimeField(help_text="UTC, e.g. 2026-01-01 00:00")
    effective_to = forms.DateTimeField(required=False)
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_rules(self) -> list[dict[str, Any]] | None:
        """The JSON rules, or None when the field is empty (the builder's rules are used)."""
        if not self.cleaned_data["rules"].strip():
            return None
        try:
            rules = json.loads(self.cleaned_data["rules"])
        except json.JSONDecodeError as error:
            raise forms.ValidationError(f"is not valid JSON: {error}") from None
        if not isinstance(rules, list):
            raise forms.ValidationError("must be a JSON list of rules")
        return rules

    def scope(self) -> PolicyScope:
        kind = self.cleaned_data["scope_kind"]
        if kind == "perimeter":
            return PolicyScope("perimeter")
        chosen = self.cleaned_data.get(kind)
        if chosen is None:
            raise forms.ValidationError({kind: f"choose the {kind} this policy governs"})
        return PolicyScope(kind, chosen.pk)


@admin.register(PolicyVersion)
class PolicyVersionAdmin(PolicyReadAdmin):
    list_display = (
        "policy",
        "version",
        "kind",
        "status_label",
        "effective_from",
        "effective_to",
        "author",
        "approvals",
    )
    list_filter = ("status", "kind", "policy")
    list_select_related = ("policy", "author")
    fields = (
        "policy",
        "version",
        "kind",
        "status",
        "effective_from",
        "effective_to",
        "author",
        "comment",
        "activated_at",
    )
    change_form_outer_before_template = "reserve/admin/policy_version_panel.html"

    @display(description="status", label={"draft": "warning", "active": "success", "retired": "info"})
    def status_label(self, version: PolicyVersion) -> str:
        return version.status

    @admin.display(description="approvals")
    def approvals(self, version: PolicyVersion) -> int:
        return version.approvals.count()

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return user_may(request.user, DRAFT_VERSION)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/approve/",
                self.admin_site.admin_view(self.approve_view),
                name="policy_policyversion_approve",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> Any:
        version = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if version is not None:
            approvers = [approval.approver for approval in version.approvals.select_related("approver")]
            blocked = ""
            if version.author_id == request.user.pk:
                blocked = "You wrote this version: two other policy administrators approve it."
            elif any(approver.pk == request.user.pk for approver in approvers):
                blocked = "You have already approved this version."
            context.update(
                {
                    "version": version,
                    "rules_in_words": policy_version_rules_in_words(version=version),
                    "rules_json": json.dumps(version.rules, indent=2),
                    "approvers": approvers,
                    "can_approve": version.status == PolicyVersion.Status.DRAFT
                    and user_may(request.user, APPROVE_VERSION),
                    "approve_blocked": blocked,
                    "can_draft": user_may(request.user, DRAFT_VERSION),
                }
            )
        return super().change_view(request, object_id, form_url, extra_context=context)

    def approve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not user_may(request.user, APPROVE_VERSION):
            raise PermissionDenied
        version = get_object_or_404(PolicyVersion, pk=unquote(object_id))
        try:
            version = policy_approve(
                version=version, approver=signed_in_user(request), comment=request.POST.get("comment", "")
            )
        except ApplicationError as error:
            refuse(error)
            messages.error(request, f"Not approved: {error.message}")
        else:
            messages.success(request, f"Approval recorded; version {version.version} is {version.status}.")
        return redirect("admin:policy_policyversion_change", version.pk)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None) -> Any:
        """A new draft version, its rules from the builder or as JSON; "?from=<id>" starts from an
        existing version's rules (in the builder)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            source = self._source(request.GET.get("from"))
            form = PolicyDraftForm(initial=self._initial(source))
            return self._draft_page(request, form, RuleBuilder(rules=source.rules if source else ()))
        if "_add_rule" in request.POST or "_remove" in request.POST:
            # Adding or removing a row redraws what was typed, judged only once saved.
            form = PolicyDraftForm(initial=request.POST.dict())
            removed = request.POST.get("_remove", "")
            if removed.isdigit():
                return self._draft_page(request, form, RuleBuilder.without_row(request.POST, int(removed)))
            builder = RuleBuilder(data=request.POST)
            builder.add(request.POST.get("add_rule_type", ""))
            return self._draft_page(request, form, builder)
        form, builder = PolicyDraftForm(request.POST), RuleBuilder(data=request.POST)
        rules = _posted_rules(form, builder)
        if form.is_valid() and rules is not None:
            try:
                draft = policy_create_draft(
                    name=form.cleaned_data["name"],
                    scope=form.scope(),
                    rules=rules,
                    effective_from=form.cleaned_data["effective_from"],
                    effective_to=form.cleaned_data["effective_to"],
                    author=signed_in_user(request),
                    comment=form.cleaned_data["comment"],
                )
            except forms.ValidationError as error:
                form.add_error(None, error)
            except ApplicationError as error:
                refuse(error)
                rest = builder.show(error) if builder.rows else error
                if rest is not None:
                    show_service_error(form, rest)
            else:
                messages.success(request, f"Draft version {draft.version} of {draft.policy.name} saved.")
                for warning in policy_draft_warnings(version=draft):
                    messages.warning(request, f"Warning: {warning}.")
                return redirect("admin:policy_policyversion_change", draft.pk)
        return self._draft_page(request, form, builder)

    def _draft_page(self, request: HttpRequest, form: PolicyDraftForm, builder: RuleBuilder) -> HttpResponse:
        return admin_page(
            request,
            model_admin=self,
            template="reserve/admin/policy_draft.html",
            title="Draft a policy version",
            context={
                "form": form,
                "builder": builder,
                "add_rule": AddRuleForm(),
                "intro": "A draft takes effect once two policy administrators other than its author approve it.",
            },
            status=400 if form.is_bound and (form.errors or builder.has_errors) else 200,
        )

    @staticmethod
    def _source(source_id: str | None) -> PolicyVersion | None:
        if not source_id or not source_id.isdigit():
            return None
        return PolicyVersion.objects.select_related("policy").filter(pk=source_id).first()

    @staticmethod
    def _initial(source: PolicyVersion | None) -> dict[str, Any]:
        if source is None:
            return {"scope_kind": "perimeter"}
        scope = source.policy.scope
        return {
            "name": source.policy.name,
            "scope_kind": scope.kind,
            "agency": scope.object_id if scope.kind == "agency" else None,
            "wallet": scope.object_id if scope.kind == "wallet" else None,
        }


def _posted_rules(form: PolicyDraftForm, builder: RuleBuilder) -> list[dict[str, Any]] | None:
    """The rules of a posted draft: the builder's or the JSON field's, whichever was used. Both at
    once is refused (neither silently wins); None while anything is wrong (shown on its field)."""
    form.is_valid()
    built = builder.rules()
    typed = form.cleaned_data.get("rules")
    if builder.rows and typed is not None:
        form.add_error(
            "rules", "give the rules either in the builder or as JSON, not both: empty this field to keep the builder's"
        )
        return None
    if not builder.rows and typed is None:
        if "rules" not in form.errors:
            form.add_error("rules", "add a rule with the builder above, or give the rules as JSON")
        return None
    return built if builder.rows else typed


@admin.register(PolicyEvaluation)
class PolicyEvaluationAdmin(PolicyReadAdmin):
    list_display = ("created_at", "gate", "subject_type", "subject_id", "outcome_label", "required_approvals")
    list_filter = ("gate", "outcome", "subject_type")
    search_fields = ("subject_id",)
    fields = (
        "gate",
        "subject_type",
        "subject_id",
        "outcome",
        "required_approvals",
        "required_role",
        "approvals_counted",
        "requested_at",
        "evaluated_at",
        "created_at",
        "lines_pretty",
        "change_pretty",
        "versions_pretty",
    )
    readonly_fields = ("lines_pretty", "change_pretty", "versions_pretty")

    @display(description="outcome", label={"allow": "success", "needs_approval": "warning", "deny": "danger"})
    def outcome_label(self, evaluation: PolicyEvaluation) -> str:
        return evaluation.outcome

    @admin.display(description="lines")
    def lines_pretty(self, evaluation: PolicyEvaluation) -> str:
        return json_block(evaluation.lines)

    @admin.display(description="change judged")
    def change_pretty(self, evaluation: PolicyEvaluation) -> str:
        return json_block(evaluation.change)

    @admin.display(description="versions applied")
    def versions_pretty(self, evaluation: PolicyEvaluation) -> str:
        return json_block(evaluation.versions)


class OpenFirst(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("open", "Open"), ("resolved", "Resolved"), ("all", "All")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[PolicyBreach]) -> QuerySet[PolicyBreach]:
        value = self.value() or "open"
        return queryset if value == "all" else queryset.filter(status=value)

    def choices(self, changelist: Any) -> Any:
        for lookup, title in self.lookup_choices:
            yield {
                "selected": (self.value() or "open") == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


@admin.register(PolicyBreach)
class PolicyBreachAdmin(PolicyReadAdmin):
    list_display = ("detected_at", "status_label", "rule_type", "policy", "measured", "limit", "reason", "block_height")
    list_filter = (OpenFirst, "rule_type")
    list_select_related = ("version__policy",)
    change_form_outer_before_template = "reserve/admin/breach_panel.html"
    fields = (
        "version",
        "rule_index",
        "rule_type",
        "evaluation",
        "subject_type",
        "subject_id",
        "occurred_at",
        "block_height",
        "measured",
        "limit",
        "reason",
        "status",
        "detected_at",
        "resolved_at",
        "resolved_by",
        "resolution_reason",
    )
    readonly_fields = ("measured", "limit")

    @display(description="status", label={"open": "danger", "resolved": "success"})
    def status_label(self, breach: PolicyBreach) -> str:
        return breach.status

    @admin.display(description="policy")
    def policy(self, breach: PolicyBreach) -> str:
        return f"{breach.version.policy.name} v{breach.version.version}"

    @admin.display(description="measured")
    def measured(self, breach: PolicyBreach) -> str:
        return btc(breach.measured_sats)

    @admin.display(description="limit")
    def limit(self, breach: PolicyBreach) -> str:
        return btc(breach.limit_sats)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/resolve/",
                self.admin_site.admin_view(self.resolve_view),
                name="policy_policybreach_resolve",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> Any:
        breach = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if breach is not None:
            context["breach"] = breach
            context["can_resolve"] = breach.status == PolicyBreach.Status.OPEN and user_may(
                request.user, RESOLVE_BREACH
            )
        return super().change_view(request, object_id, form_url, extra_context=context)

    def resolve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not user_may(request.user, RESOLVE_BREACH):
            raise PermissionDenied
        breach = get_object_or_404(PolicyBreach, pk=unquote(object_id))
        try:
            policy_breach_resolve(breach=breach, reason=request.POST.get("reason", ""), actor=signed_in_user(request))
        except ApplicationError as error:
            refuse(error)
            messages.error(request, f"Not resolved: {error.message}")
        else:
            messages.success(request, "Breach resolved.")
        return redirect("admin:policy_policybreach_change", breach.pk)
