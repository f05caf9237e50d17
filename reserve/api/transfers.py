"""The transfer register (every role) and its writes: operators propose and cancel, approvers
approve and reject. Every write needs an `Idempotency-Key`."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ledger.amounts import MAX_SATS
from policy.models import PolicyEvaluation
from reserve.api.base import (
    FORMAT_PARAMETER,
    READ_ERRORS,
    WRITE_ERRORS,
    ApiMixin,
    BtcField,
    CategoryField,
    CsvMixin,
    Pagination,
    StrictInputSerializer,
    list_responses,
)
from reserve.api.filters import BACKENDS, agency_filter, date_range, wallet_filter
from reserve.api.idempotency import idempotency_parameter, idempotent
from reserve.audit.models import AuditEvent
from reserve.audit.selectors import audit_trail
from reserve.compliance.selectors import transfer_policy_evaluations
from reserve.custody.models import Counterparty, Wallet
from reserve.custody.selectors import membership_then
from reserve.transfers.models import Approval, Transfer, TransferDirection, TransferStatus
from reserve.transfers.selectors import transfer_list, transfer_quorum_progress
from reserve.transfers.services import (
    transfer_approve,
    transfer_cancel,
    transfer_reject,
    transfer_submit,
)


class TransferSerializer(serializers.ModelSerializer):
    amount_btc = BtcField(source="amount_sats")
    fee_btc = BtcField(source="fee_sats")
    proposer = serializers.CharField(source="proposer.username", allow_null=True, default=None)

    class Meta:
        model = Transfer
        fields = [
            "id",
            "direction",
            "category",
            "status",
            "status_reason",
            "amount_sats",
            "amount_btc",
            "fee_sats",
            "fee_btc",
            "source_wallet",
            "destination_wallet",
            "external_address",
            "counterparty",
            "provenance_reference",
            "memo",
            "fiat_value",
            "fiat_currency",
            "txid",
            "vout",
            "block_height",
            "block_hash",
            "observed",
            "proposer",
            "required_approvals",
            "required_role",
            "occurred_at",
            "created_at",
            "proposed_at",
            "approved_at",
            "broadcast_at",
            "confirmed_at",
            "finalized_at",
            "closed_at",
        ]


class ApprovalSerializer(serializers.ModelSerializer):
    approver = serializers.CharField(source="approver.username")

    class Meta:
        model = Approval
        fields = ["id", "approver", "decision", "comment", "at"]


class QuorumSerializer(serializers.Serializer):
    approvals = serializers.IntegerField()
    required = serializers.IntegerField()  # type: ignore[assignment]  # a field, not Field.required
    role = serializers.CharField()
    approvers = serializers.ListField(child=serializers.CharField())
    rejected_by = serializers.CharField(allow_null=True)


class PolicyEvaluationSerializer(serializers.ModelSerializer):
    class Meta:
        model = PolicyEvaluation
        fields = [
            "id",
            "gate",
            "subject_type",
            "subject_id",
            "outcome",
            "lines",
            "versions",
            "required_approvals",
            "required_role",
            "approvals_counted",
            "requested_at",
            "evaluated_at",
            "created_at",
            "change",
        ]


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "at",
            "actor",
            "actor_label",
            "action",
            "object_type",
            "object_id",
            "before",
            "after",
            "request_id",
        ]


class TransferDetailSerializer(TransferSerializer):
    policy_preview = serializers.JSONField(allow_null=True)
    approvals = ApprovalSerializer(many=True)
    quorum = serializers.SerializerMethodField()
    policy_evaluations = serializers.SerializerMethodField()
    audit_events = serializers.SerializerMethodField()

    class Meta(TransferSerializer.Meta):
        fields = [
            *TransferSerializer.Meta.fields,
            "policy_preview",
            "approvals",
            "quorum",
            "policy_evaluations",
            "audit_events",
        ]

    @extend_schema_field(QuorumSerializer)
    def get_quorum(self, transfer: Transfer) -> Any:
        return QuorumSerializer(transfer_quorum_progress(transfer=transfer)).data

    @extend_schema_field(PolicyEvaluationSerializer(many=True))
    def get_policy_evaluations(self, transfer: Transfer) -> Any:
        return PolicyEvaluationSerializer(transfer_policy_evaluations(transfer=transfer), many=True).data

    @extend_schema_field(AuditEventSerializer(many=True))
    def get_audit_events(self, transfer: Transfer) -> Any:
        events = audit_trail(object_type="reserve.transfer", object_id=str(transfer.pk)).order_by("id")
        return AuditEventSerializer(events, many=True).data


def transfer_detail_data(transfer_id: int) -> Any:
    transfer = Transfer.objects.select_related("proposer").prefetch_related("approvals__approver").get(pk=transfer_id)
    return TransferDetailSerializer(transfer).data


# A transfer's time in the register: when it happened (its block's time once posted), and until
# then when it was drafted, so a pending proposal is in the window it was made in, not in none.
DATED_AT = Coalesce("occurred_at", "created_at")


@date_range("dated_at")
class TransferFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=TransferStatus.choices)
    direction = django_filters.ChoiceFilter(choices=TransferDirection.choices)
    category = django_filters.CharFilter()
    wallet = wallet_filter(method="filter_wallet", label="Source or destination wallet id")
    agency = agency_filter(
        method="filter_agency",
        label="Agency id of the source or destination, by the membership in force at the transfer's time",
    )
    observed = django_filters.BooleanFilter()
    txid = django_filters.CharFilter()

    class Meta:
        model = Transfer
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet[Transfer]) -> QuerySet[Transfer]:
        return super().filter_queryset(queryset.annotate(dated_at=DATED_AT))

    def filter_wallet(self, queryset: QuerySet[Transfer], name: str, value: Any) -> QuerySet[Transfer]:
        return queryset.filter(Q(source_wallet_id=value) | Q(destination_wallet_id=value))

    def filter_agency(self, queryset: QuerySet[Transfer], name: str, value: Any) -> QuerySet[Transfer]:
        """The agency that held each end when the transfer happened (or was drafted), not today's:
        a wallet that moved between agencies since does not carry its history along."""
        return queryset.annotate(
            source_agency_then=membership_then(wallet="source_wallet_id", when="dated_at", attribute="agency_id"),
            destination_agency_then=membership_then(
                wallet="destination_wallet_id", when="dated_at", attribute="agency_id"
            ),
        ).filter(Q(source_agency_then=value) | Q(destination_agency_then=value))


class TransferProposeInput(StrictInputSerializer):
    direction = serializers.ChoiceField(choices=TransferDirection.choices)
    category = CategoryField()
    amount_sats = serializers.IntegerField(min_value=1, max_value=MAX_SATS)
    fee_sats = serializers.IntegerField(min_value=0, max_value=MAX_SATS, default=0)
    source_wallet = serializers.PrimaryKeyRelatedField(queryset=Wallet.objects.all(), required=False, allow_null=True)
    destination_wallet = serializers.PrimaryKeyRelatedField(
        queryset=Wallet.objects.all(), required=False, allow_null=True
    )
    external_address = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    counterparty = serializers.PrimaryKeyRelatedField(
        queryset=Counterparty.objects.all(), required=False, allow_null=True
    )
    provenance_reference = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    memo = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    lots = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        default=list,
        max_length=1_000,
        help_text="Lot ids the outflow takes, in order (specific identification); empty: oldest first (FIFO)",
    )


@extend_schema_view(
    list=extend_schema(tags=["transfers"], parameters=[FORMAT_PARAMETER], responses=list_responses(TransferSerializer)),
    retrieve=extend_schema(tags=["transfers"], responses={200: TransferDetailSerializer, **READ_ERRORS}),
)
class TransferViewSet(CsvMixin, viewsets.GenericViewSet):
    """The transfer register; the detail adds approvals, quorum, policy evaluations and the audit trail.
    Operators propose transfers (POST): drafted and proposed in one step, judged by the policy."""

    serializer_class = TransferSerializer
    pagination_class = Pagination
    filter_backends = BACKENDS
    filterset_class = TransferFilter
    write_permission = "reserve.propose_transfer"  # what its service checks

    def get_queryset(self) -> QuerySet[Transfer]:
        return transfer_list()

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(TransferSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(transfer_detail_data(self.get_object().pk))

    @extend_schema(
        tags=["transfers"],
        request=TransferProposeInput,
        parameters=[idempotency_parameter(required=True)],
        responses={201: TransferDetailSerializer, **WRITE_ERRORS},
    )
    def create(self, request: Request) -> Response:
        def perform() -> Response:
            data = TransferProposeInput(data=request.data)
            data.is_valid(raise_exception=True)
            transfer = transfer_submit(actor=request.user, **data.validated_data)
            return Response(transfer_detail_data(transfer.pk), status=status.HTTP_201_CREATED)

        return idempotent(request, perform, required=True)


class _TransitionApi(ApiMixin, APIView):
    """One state transition of one transfer, answered with the transfer's detail."""

    def transfer(self, pk: int) -> Transfer:
        return get_object_or_404(Transfer.objects.all(), pk=pk)


class TransferApproveApi(_TransitionApi):
    write_permission = "reserve.approve_transfer"  # what its service checks

    class TransferApproveInputSerializer(StrictInputSerializer):
        comment = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")

    @extend_schema(
        tags=["transfers"],
        request=TransferApproveInputSerializer,
        parameters=[idempotency_parameter(required=True)],
        responses={200: TransferDetailSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Approve (an approver other than the proposer); at the quorum the transfer is approved."""

        def perform() -> Response:
            data = self.TransferApproveInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            transfer = transfer_approve(transfer=self.transfer(pk), actor=request.user, **data.validated_data)
            return Response(transfer_detail_data(transfer.pk))

        return idempotent(request, perform, required=True)


class TransferRejectApi(_TransitionApi):
    write_permission = "reserve.approve_transfer"  # what its service checks

    class TransferRejectInputSerializer(StrictInputSerializer):
        comment = serializers.CharField(max_length=5000, help_text="Why the transfer is rejected")

    @extend_schema(
        tags=["transfers"],
        request=TransferRejectInputSerializer,
        parameters=[idempotency_parameter(required=True)],
        responses={200: TransferDetailSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Reject, with the reason (an approver other than the proposer)."""

        def perform() -> Response:
            data = self.TransferRejectInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            transfer = transfer_reject(transfer=self.transfer(pk), actor=request.user, **data.validated_data)
            return Response(transfer_detail_data(transfer.pk))

        return idempotent(request, perform, required=True)


class TransferCancelApi(_TransitionApi):
    write_permission = "reserve.propose_transfer"  # what its service checks

    class TransferCancelInputSerializer(StrictInputSerializer):
        reason = serializers.CharField(max_length=5000, help_text="Why the transfer is withdrawn")

    @extend_schema(
        tags=["transfers"],
        request=TransferCancelInputSerializer,
        parameters=[idempotency_parameter(required=True)],
        responses={200: TransferDetailSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Withdraw a transfer before broadcast; an approved one gives its reservation back."""

        def perform() -> Response:
            data = self.TransferCancelInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            transfer = transfer_cancel(transfer=self.transfer(pk), actor=request.user, **data.validated_data)
            return Response(transfer_detail_data(transfer.pk))

        return idempotent(request, perform, required=True)
