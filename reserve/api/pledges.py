"""Pledges and liabilities: every role reads them; a policy administrator makes one (POST), another
approves it, and it is released once with the document that says so, each through its service."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ledger.amounts import MAX_SATS
from policy.permissions import DRAFT_VERSION
from reserve.api.base import (
    FORMAT_PARAMETER,
    READ_ERRORS,
    WRITE_ERRORS,
    ApiMixin,
    BtcField,
    CsvMixin,
    Pagination,
    StrictInputSerializer,
    list_responses,
)
from reserve.api.filters import BACKENDS, date_range, wallet_filter
from reserve.api.idempotency import idempotency_parameter, idempotent
from reserve.compliance.models import PLEDGE_STATUS_FILTERS, Pledge, PledgeKind, PledgeStatus
from reserve.compliance.pledge_services import pledge_approve, pledge_make, pledge_release
from reserve.custody.models import Wallet


class PledgeSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=PledgeStatus.choices, help_text="made, active (approved) or released")
    wallet_name = serializers.CharField(source="wallet.name", allow_null=True, default=None)
    amount_btc = BtcField(source="amount_sats")
    made_by = serializers.CharField(source="made_by.username")
    approved_by = serializers.CharField(source="approved_by.username", allow_null=True, default=None)
    released_by = serializers.CharField(source="released_by.username", allow_null=True, default=None)

    class Meta:
        model = Pledge
        fields = [
            "id",
            "kind",
            "status",
            "wallet",
            "wallet_name",
            "amount_sats",
            "amount_btc",
            "purpose",
            "reference",
            "dated",
            "made_by",
            "made_at",
            "approved_by",
            "approved_at",
            "released_by",
            "released_at",
            "release_reference",
        ]


@date_range("made_at")
class PledgeFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=PledgeKind.choices)
    status = django_filters.ChoiceFilter(choices=PledgeStatus.choices, method="filter_status")
    wallet = wallet_filter(field_name="wallet")

    class Meta:
        model = Pledge
        fields: list[str] = []

    def filter_status(self, queryset: QuerySet[Pledge], name: str, value: Any) -> QuerySet[Pledge]:
        return queryset.filter(PLEDGE_STATUS_FILTERS[PledgeStatus(value)])


class PledgeInput(StrictInputSerializer):
    kind = serializers.ChoiceField(choices=PledgeKind.choices)
    wallet = serializers.PrimaryKeyRelatedField(
        queryset=Wallet.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="The wallet whose coins it holds; a liability may name none (owed by the whole reserve)",
    )
    amount_sats = serializers.IntegerField(min_value=1, max_value=MAX_SATS)
    purpose = serializers.CharField(max_length=200)
    reference = serializers.CharField(max_length=200, help_text="The document that makes it")
    dated = serializers.DateField()


def _pledges() -> QuerySet[Pledge]:
    return Pledge.objects.select_related("wallet", "made_by", "approved_by", "released_by").order_by("-dated", "-id")


def pledge_data(pledge_id: int) -> Any:
    return PledgeSerializer(_pledges().get(pk=pledge_id)).data


@extend_schema_view(
    list=extend_schema(tags=["policy"], parameters=[FORMAT_PARAMETER], responses=list_responses(PledgeSerializer)),
    retrieve=extend_schema(tags=["policy"], responses={200: PledgeSerializer, **READ_ERRORS}),
)
class PledgeViewSet(CsvMixin, viewsets.GenericViewSet):
    """Coins pledged as collateral or committed to a purpose, and bitcoin-linked liabilities; each
    counts from its approval until its release. Policy administrators make one (POST)."""

    serializer_class = PledgeSerializer
    pagination_class = Pagination
    filter_backends = BACKENDS
    filterset_class = PledgeFilter
    write_permission = DRAFT_VERSION  # what pledge_make checks

    def get_queryset(self) -> QuerySet[Pledge]:
        return _pledges()

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(PledgeSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(PledgeSerializer(self.get_object()).data)

    @extend_schema(
        tags=["policy"],
        request=PledgeInput,
        parameters=[idempotency_parameter(required=False)],
        responses={201: PledgeSerializer, **WRITE_ERRORS},
    )
    def create(self, request: Request) -> Response:
        def perform() -> Response:
            data = PledgeInput(data=request.data)
            data.is_valid(raise_exception=True)
            pledge = pledge_make(actor=request.user, **data.validated_data)
            return Response(pledge_data(pledge.pk), status=status.HTTP_201_CREATED)

        return idempotent(request, perform, required=False)


class PledgeApproveApi(ApiMixin, APIView):
    write_permission = DRAFT_VERSION  # what pledge_approve checks

    class PledgeApproveInputSerializer(StrictInputSerializer):
        pass

    @extend_schema(
        tags=["policy"],
        request=PledgeApproveInputSerializer,
        parameters=[idempotency_parameter(required=False)],
        responses={200: PledgeSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Approve a made record (a policy administrator other than its maker), if the policy in force
        lets it encumber; once."""

        def perform() -> Response:
            self.PledgeApproveInputSerializer(data=request.data).is_valid(raise_exception=True)
            pledge = pledge_approve(pledge=get_object_or_404(Pledge.objects.all(), pk=pk), approver=request.user)
            return Response(pledge_data(pledge.pk))

        return idempotent(request, perform, required=False)


class PledgeReleaseApi(ApiMixin, APIView):
    write_permission = DRAFT_VERSION  # what pledge_release checks

    class PledgeReleaseInputSerializer(StrictInputSerializer):
        reference = serializers.CharField(max_length=200, help_text="The document that releases it")

    @extend_schema(
        tags=["policy"],
        request=PledgeReleaseInputSerializer,
        parameters=[idempotency_parameter(required=False)],
        responses={200: PledgeSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Release an approved record (the loan repaid, the purpose met), once."""

        def perform() -> Response:
            data = self.PledgeReleaseInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            pledge = get_object_or_404(Pledge.objects.all(), pk=pk)
            pledge = pledge_release(pledge=pledge, actor=request.user, **data.validated_data)
            return Response(pledge_data(pledge.pk))

        return idempotent(request, perform, required=False)
