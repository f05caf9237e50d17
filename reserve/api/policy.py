"""Policies: versions with their rules in words (every role); drafts and approvals (holders of
policy's own permissions, as the policy services check them); the dry run; stored evaluations,
breaches and the compliance report."""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import django_filters
from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ledger.amounts import MAX_SATS
from policy.models import Category, Policy, PolicyBreach, PolicyEvaluation, PolicyVersion
from policy.permissions import APPROVE_VERSION, DRAFT_VERSION
from policy.selectors import policy_version_rules_in_words
from policy.services import policy_approve, policy_create_draft
from policy.types import GATES, OUTCOMES, PolicyScope
from reserve.api.base import (
    FORMAT_PARAMETER,
    QUERY_STRING,
    READ_ERRORS,
    WRITE_ERRORS,
    ApiMixin,
    CategoryField,
    CsvMixin,
    Pagination,
    StrictInputSerializer,
    TimeField,
    csv_responses,
    list_responses,
)
from reserve.api.filters import BACKENDS, agency_filter, date_range, wallet_filter
from reserve.api.idempotency import idempotency_parameter, idempotent
from reserve.api.permissions import DRY_RUN_ROLES
from reserve.api.transfers import PolicyEvaluationSerializer
from reserve.compliance.selectors import compliance_rows
from reserve.custody.models import Agency, Counterparty, Wallet
from reserve.proofs.filed import reports_filed
from reserve.reports.chain_point import chain_point
from reserve.transfers.models import TransferDirection
from reserve.transfers.preview import transfer_dry_run

# ---- versions -------------------------------------------------------------------------------


class ScopeSerializer(serializers.Serializer):
    kind = serializers.CharField()
    object_id = serializers.IntegerField(allow_null=True)
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label


class VersionApprovalSerializer(serializers.Serializer):
    approver = serializers.CharField(source="approver.username")
    comment = serializers.CharField()
    approved_at = serializers.DateTimeField()


class RuleSerializer(StrictInputSerializer):
    type = serializers.CharField(max_length=64)
    params = serializers.DictField(default=dict)


class PolicyVersionSerializer(serializers.ModelSerializer):
    policy_id = serializers.IntegerField()
    name = serializers.CharField(source="policy.name")
    scope = ScopeSerializer(source="policy.scope")
    rules = serializers.ListField(child=serializers.DictField())
    rules_in_words = serializers.SerializerMethodField()
    author = serializers.CharField(source="author.username")
    approvals = VersionApprovalSerializer(many=True)

    class Meta:
        model = PolicyVersion
        fields = [
            "id",
            "policy_id",
            "name",
            "scope",
            "version",
            "kind",
            "status",
            "effective_from",
            "effective_to",
            "rules",
            "rules_in_words",
            "author",
            "comment",
            "approvals",
            "created_at",
            "activated_at",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_rules_in_words(self, version: PolicyVersion) -> list[str]:
        return policy_version_rules_in_words(version=version)


@date_range("effective_from")
class PolicyVersionFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=PolicyVersion.Status.choices)
    kind = django_filters.ChoiceFilter(choices=PolicyVersion.Kind.choices)
    policy = django_filters.NumberFilter(field_name="policy_id")
    name = django_filters.CharFilter(field_name="policy__name")
    scope = django_filters.ChoiceFilter(
        field_name="policy__scope_kind", choices=[(k, k) for k in ("perimeter", "agency", "wallet")]
    )
    agency = agency_filter(method="filter_agency", label="Versions of policies scoped to this agency")
    wallet = wallet_filter(method="filter_wallet", label="Versions of policies scoped to this wallet")

    class Meta:
        model = PolicyVersion
        fields: list[str] = []

    def filter_agency(self, queryset: QuerySet[PolicyVersion], name: str, value: Any) -> Any:
        return queryset.filter(policy__scope_kind="agency", policy__scope_object_id=value)

    def filter_wallet(self, queryset: QuerySet[PolicyVersion], name: str, value: Any) -> Any:
        return queryset.filter(policy__scope_kind="wallet", policy__scope_object_id=value)


class PolicyDraftInput(StrictInputSerializer):
    name = serializers.CharField(max_length=200)
    scope = serializers.DictField(
        help_text='{"perimeter": true}, {"agency": <id>} or {"wallet": <id>}', child=serializers.JSONField()
    )
    effective_from = TimeField()
    effective_to = TimeField(required=False, allow_null=True, default=None)
    rules = RuleSerializer(many=True, allow_empty=True)
    comment = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")

    def validate_scope(self, value: dict[str, Any]) -> PolicyScope:
        if len(value) != 1:
            raise serializers.ValidationError('give exactly one of {"perimeter": true}, {"agency": id}, {"wallet": id}')
        kind, target = next(iter(value.items()))
        if kind == "perimeter":
            if target is not True:
                raise serializers.ValidationError('the perimeter scope is {"perimeter": true}')
            return PolicyScope("perimeter")
        if kind not in ("agency", "wallet"):
            raise serializers.ValidationError(f"unknown scope {kind!r}; use perimeter, agency or wallet")
        targets = Agency.objects.all() if kind == "agency" else Wallet.objects.all()
        if isinstance(target, bool) or not isinstance(target, int) or not targets.filter(pk=target).exists():
            raise serializers.ValidationError(f"{kind}: no {kind} with id {target!r}")
        return PolicyScope("agency", target) if kind == "agency" else PolicyScope("wallet", target)


@extend_schema_view(
    list=extend_schema(
        tags=["policy"],
        parameters=[FORMAT_PARAMETER],
        responses=list_responses(PolicyVersionSerializer),
    ),
    retrieve=extend_schema(tags=["policy"], responses={200: PolicyVersionSerializer, **READ_ERRORS}),
)
class PolicyVersionViewSet(CsvMixin, viewsets.GenericViewSet):
    """Policy versions (drafts, active, retired) with their rules as stored and in words.
    Policy administrators draft a new version (POST)."""

    serializer_class = PolicyVersionSerializer
    pagination_class = Pagination
    filter_backends = BACKENDS
    filterset_class = PolicyVersionFilter
    write_permission = DRAFT_VERSION

    def get_queryset(self) -> QuerySet[PolicyVersion]:
        return (
            PolicyVersion.objects.select_related("policy", "author")
            .prefetch_related("approvals__approver")
            .order_by("policy_id", "version")
        )

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(PolicyVersionSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(PolicyVersionSerializer(self.get_object()).data)

    @extend_schema(
        tags=["policy"],
        request=PolicyDraftInput,
        parameters=[idempotency_parameter(required=False)],
        responses={201: PolicyVersionSerializer, **WRITE_ERRORS},
    )
    def create(self, request: Request) -> Response:
        def perform() -> Response:
            data = PolicyDraftInput(data=request.data)
            data.is_valid(raise_exception=True)
            fields = data.validated_data
            version = policy_create_draft(
                name=fields["name"],
                scope=fields["scope"],
                rules=[dict(rule) for rule in fields["rules"]],
                effective_from=fields["effective_from"],
                effective_to=fields["effective_to"],
                author=cast(User, request.user),
                comment=fields["comment"],
            )
            return Response(
                PolicyVersionSerializer(self.get_queryset().get(pk=version.pk)).data, status=status.HTTP_201_CREATED
            )

        return idempotent(request, perform, required=False)


class PolicyApproveApi(ApiMixin, APIView):
    write_permission = APPROVE_VERSION

    class PolicyApproveInputSerializer(StrictInputSerializer):
        comment = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")

    @extend_schema(
        tags=["policy"],
        request=PolicyApproveInputSerializer,
        parameters=[idempotency_parameter(required=False)],
        responses={200: PolicyVersionSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Approve a draft version (a holder of policy.approve_policyversion other than its author);
        at the quorum it becomes active."""

        def perform() -> Response:
            data = self.PolicyApproveInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            version = get_object_or_404(PolicyVersion.objects.all(), pk=pk)
            policy_approve(version=version, approver=cast(User, request.user), **data.validated_data)
            return Response(PolicyVersionSerializer(PolicyVersionViewSet().get_queryset().get(pk=pk)).data)

        return idempotent(request, perform, required=False)


# ---- dry run --------------------------------------------------------------------------------


class RuleLineSerializer(serializers.Serializer):
    rule_type = serializers.CharField()
    rule_index = serializers.IntegerField()
    policy_id = serializers.IntegerField(allow_null=True)
    policy_version = serializers.IntegerField(allow_null=True)
    version_id = serializers.IntegerField(allow_null=True)
    scope = serializers.CharField(allow_blank=True)
    measured_sats = serializers.IntegerField(allow_null=True)
    limit_sats = serializers.IntegerField(allow_null=True)
    verdict = serializers.ChoiceField(choices=OUTCOMES)
    reason = serializers.CharField()
    extra_approvals = serializers.IntegerField()


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(source="outcome", choices=OUTCOMES)
    lines = RuleLineSerializer(many=True)
    required_approvals = serializers.IntegerField()
    required_role = serializers.CharField()
    versions = serializers.ListField(child=serializers.IntegerField())
    evaluated_at = serializers.DateTimeField(allow_null=True)


class PolicyEvaluateApi(ApiMixin, APIView):
    write_roles = DRY_RUN_ROLES

    class PolicyEvaluateInputSerializer(StrictInputSerializer):
        direction = serializers.ChoiceField(choices=TransferDirection.choices)
        category = CategoryField()
        amount_sats = serializers.IntegerField(min_value=1, max_value=MAX_SATS)
        fee_sats = serializers.IntegerField(min_value=0, max_value=MAX_SATS, default=0)
        source_wallet = serializers.PrimaryKeyRelatedField(
            queryset=Wallet.objects.all(), required=False, allow_null=True, default=None
        )
        destination_wallet = serializers.PrimaryKeyRelatedField(
            queryset=Wallet.objects.all(), required=False, allow_null=True, default=None
        )
        external_address = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
        counterparty = serializers.PrimaryKeyRelatedField(
            queryset=Counterparty.objects.all(), required=False, allow_null=True, default=None
        )
        provenance_reference = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
        memo = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
        at = TimeField(required=False, allow_null=True, default=None, help_text="Default: now")
        version = serializers.PrimaryKeyRelatedField(
            queryset=PolicyVersion.objects.select_related("policy"),
            required=False,
            allow_null=True,
            default=None,
            help_text="Judge by this version only (e.g. a draft) instead of the versions in force",
        )

    @extend_schema(
        tags=["policy"], request=PolicyEvaluateInputSerializer, responses={200: DecisionSerializer, **WRITE_ERRORS}
    )
    def post(self, request: Request) -> Response:
        """Dry run: the decision and per-rule lines on a hypothetical transfer. Nothing is stored."""
        data = self.PolicyEvaluateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields.pop("memo")
        decision = transfer_dry_run(actor=request.user, **fields)
        body = dataclasses.asdict(decision) | {"lines": [dataclasses.asdict(line) for line in decision.lines]}
        return Response(DecisionSerializer(body).data)


# ---- evaluations, breaches, compliance ------------------------------------------------------


def change_touches(field: str, side: str, object_id: int) -> Q:
    """The stored change (JSON) moves bitcoin from or to this wallet or agency."""
    return Q(**{f"{field}__source_{side}_id": object_id}) | Q(**{f"{field}__destination_{side}_id": object_id})


@date_range("created_at")
class PolicyEvaluationFilter(django_filters.FilterSet):
    gate = django_filters.ChoiceFilter(choices=[(gate, gate) for gate in GATES])
    outcome = django_filters.ChoiceFilter(choices=[(outcome, outcome) for outcome in OUTCOMES])
    subject_type = django_filters.CharFilter()
    subject_id = django_filters.CharFilter()
    transfer = django_filters.NumberFilter(method="filter_transfer", label="Evaluations of this transfer")
    wallet = wallet_filter(method="filter_wallet", label="Changes from or to this wallet")
    agency = agency_filter(method="filter_agency", label="Changes from or to this agency's wallets")
    category = django_filters.CharFilter(field_name="change__category")

    class Meta:
        model = PolicyEvaluation
        fields: list[str] = []

    def filter_transfer(self, queryset: QuerySet[PolicyEvaluation], name: str, value: Any) -> Any:
        return queryset.filter(subject_type="reserve.transfer", subject_id=str(int(value)))

    def filter_wallet(self, queryset: QuerySet[PolicyEvaluation], name: str, value: Any) -> Any:
        return queryset.filter(change_touches("change", "wallet", int(value)))

    def filter_agency(self, queryset: QuerySet[PolicyEvaluation], name: str, value: Any) -> Any:
        return queryset.filter(change_touches("change", "agency", int(value)))


@extend_schema_view(
    list=extend_schema(
        tags=["policy"],
        parameters=[FORMAT_PARAMETER],
        responses=list_responses(PolicyEvaluationSerializer),
    )
)
class PolicyEvaluationViewSet(CsvMixin, viewsets.GenericViewSet):
    """Every stored evaluation that gated a transition, with its inputs and per-rule lines."""

    serializer_class = PolicyEvaluationSerializer
    pagination_class = Pagination
    filter_backends = BACKENDS
    filterset_class = PolicyEvaluationFilter

    def get_queryset(self) -> QuerySet[PolicyEvaluation]:
        return PolicyEvaluation.objects.order_by("-created_at", "-id")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(PolicyEvaluationSerializer(page, many=True).data)


class BreachSerializer(serializers.ModelSerializer):
    policy_id = serializers.IntegerField(source="version.policy_id")
    policy = serializers.CharField(source="version.policy.name")
    version = serializers.IntegerField(source="version.version")
    resolved_by = serializers.CharField(source="resolved_by.username", allow_null=True, default=None)

    class Meta:
        model = PolicyBreach
        fields = [
            "id",
            "policy_id",
            "policy",
            "version",
            "version_id",
            "rule_index",
            "rule_type",
            "evaluation_id",
            "subject_type",
            "subject_id",
            "occurred_at",
            "block_height",
            "measured_sats",
            "limit_sats",
            "reason",
            "status",
            "detected_at",
            "resolved_at",
            "resolved_by",
            "resolution_reason",
        ]


@date_range("occurred_at")
class BreachFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=PolicyBreach.Status.choices)
    rule_type = django_filters.CharFilter()
    policy = django_filters.NumberFilter(field_name="version__policy_id")
    transfer = django_filters.NumberFilter(method="filter_transfer", label="Breaches raised by this transfer")
    wallet = wallet_filter(method="filter_wallet", label="Raised by a movement of this wallet")
    agency = agency_filter(method="filter_agency", label="Raised by a movement of this agency")
    category = django_filters.CharFilter(field_name="evaluation__change__category")

    class Meta:
        model = PolicyBreach
        fields: list[str] = []

    def filter_transfer(self, queryset: QuerySet[PolicyBreach], name: str, value: Any) -> Any:
        return queryset.filter(subject_type="reserve.transfer", subject_id=str(int(value)))

    def filter_wallet(self, queryset: QuerySet[PolicyBreach], name: str, value: Any) -> Any:
        return queryset.filter(change_touches("evaluation__change", "wallet", int(value)))

    def filter_agency(self, queryset: QuerySet[PolicyBreach], name: str, value: Any) -> Any:
        return queryset.filter(change_touches("evaluation__change", "agency", int(value)))


@extend_schema_view(
    list=extend_schema(tags=["policy"], parameters=[FORMAT_PARAMETER], responses=list_responses(BreachSerializer))
)
class BreachViewSet(CsvMixin, viewsets.GenericViewSet):
    """Continuous rules found violated after the fact, open until resolved with a reason."""

    serializer_class = BreachSerializer
    pagination_class = Pagination
    filter_backends = BACKENDS
    filterset_class = BreachFilter

    def get_queryset(self) -> QuerySet[PolicyBreach]:
        return PolicyBreach.objects.select_related("version__policy", "resolved_by").order_by("-detected_at", "-id")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(BreachSerializer(page, many=True).data)


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["code", "kind", "legal_reference", "description", "involuntary", "status", "activated_at"]


@extend_schema_view(
    list=extend_schema(tags=["policy"], parameters=[FORMAT_PARAMETER], responses=list_responses(CategorySerializer))
)
class CategoryViewSet(CsvMixin, viewsets.GenericViewSet):
    """The transfer category vocabulary: each term with its legal reference; only active terms are in force."""

    serializer_class = CategorySerializer
    pagination_class = Pagination

    def get_queryset(self) -> QuerySet[Category]:
        return Category.objects.order_by("code")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(CategorySerializer(page, many=True).data)


class ComplianceRowSerializer(serializers.Serializer):
    policy_id = serializers.IntegerField()
    policy = serializers.CharField()
    version = serializers.IntegerField()
    version_id = serializers.IntegerField()
    rule_index = serializers.IntegerField()
    rule_type = serializers.CharField()
    kind = serializers.ChoiceField(choices=["day", "change"], help_text="End of a day, or a holdings change")
    day = serializers.DateField()
    at = serializers.DateTimeField()
    block_height = serializers.IntegerField(allow_null=True)
    holdings_sats = serializers.IntegerField(source="measured_sats", allow_null=True)
    limit_sats = serializers.IntegerField(allow_null=True)
    margin_sats = serializers.IntegerField(allow_null=True)
    worst_margin_sats = serializers.IntegerField(allow_null=True)
    verdict = serializers.ChoiceField(choices=OUTCOMES)
    reason = serializers.CharField()
    breaches = serializers.ListField(child=serializers.IntegerField())
    obligation = serializers.JSONField(
        allow_null=True, help_text="A reporting obligation's standing: status (due, met, overdue), deadline, met_by"
    )


class ComplianceSerializer(serializers.Serializer):
    # "from" is a Python keyword, so the field is put in the class namespace by name.
    locals()["from"] = serializers.DateTimeField()
    to = serializers.DateTimeField()
    as_of = serializers.DateTimeField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    block_hash = serializers.CharField(allow_null=True)
    rows = ComplianceRowSerializer(many=True)


class ComplianceApi(CsvMixin, APIView):
    class ComplianceFilterSerializer(StrictInputSerializer):
        locals()["from"] = TimeField()
        to = TimeField()
        policy = serializers.PrimaryKeyRelatedField(queryset=Policy.objects.all(), required=False, allow_null=True)
        format = serializers.ChoiceField(choices=["json", "csv", "api"], required=False)

    @extend_schema(
        tags=["policy"],
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATETIME, required=True, description="Start (inclusive)"),
            OpenApiParameter("to", OpenApiTypes.DATETIME, required=True, description="End (exclusive), <= 366 days"),
            OpenApiParameter("policy", OpenApiTypes.INT, description="One policy; default every approved one"),
            FORMAT_PARAMETER,
        ],
        responses=csv_responses(ComplianceSerializer, "Per rule, per day and at each holdings change"),
    )
    def get(self, request: Request) -> Response:
        """Compliance per continuous rule over [from, to): holdings, limit, margin and verdict at the end
        of each day (with the day's worst margin and breaches) and at each block where holdings changed."""
        query = self.ComplianceFilterSerializer(data=request.query_params.dict(), context=QUERY_STRING)
        query.is_valid(raise_exception=True)
        since, until = query.validated_data["from"], query.validated_data["to"]
        rows = compliance_rows(
            since=since, until=until, policy=query.validated_data.get("policy"), reports=reports_filed
        )
        point = chain_point()
        body = {
            "from": since,
            "to": until,
            "as_of": point.as_of,
            "height": point.height,
            "block_hash": point.block_hash,
            "rows": [
                dataclasses.asdict(row) | {"policy": policy.name, "breaches": list(row.breaches)}
                for policy, row in rows
            ],
        }
        return Response(ComplianceSerializer(body).data)
