"""Marking an inflow involuntary, maker-checker: an operator proposes the term
(`POST /transfers/{id}/mark-involuntary/`), another person holding reserve.approve_transfer
approves or rejects it (`POST /involuntary-marks/{id}/approve/`, `.../reject/`); only an approval
changes the transfer's category; `GET /involuntary-marks/` lists them (every role). Every write
needs an `Idempotency-Key`."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reserve.api.base import (
    FORMAT_PARAMETER,
    READ_ERRORS,
    WRITE_ERRORS,
    ApiMixin,
    CsvMixin,
    Pagination,
    StrictInputSerializer,
    list_responses,
)
from reserve.api.filters import BACKENDS
from reserve.api.idempotency import idempotency_parameter, idempotent
from reserve.transfers.involuntary import involuntary_mark_approve, involuntary_mark_propose, involuntary_mark_reject
from reserve.transfers.models import InvoluntaryMark, InvoluntaryMarkStatus, Transfer


class InvoluntaryMarkSerializer(serializers.ModelSerializer):
    proposed_by = serializers.CharField(source="proposed_by.username")
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True, default=None)
    transfer_category = serializers.CharField(source="transfer.category", help_text="The transfer's category now")

    class Meta:
        model = InvoluntaryMark
        fields = [
            "id",
            "transfer",
            "category",
            "reason",
            "status",
            "proposed_by",
            "proposed_at",
            "decided_by",
            "decided_at",
            "comment",
            "transfer_category",
        ]
        read_only_fields = fields


def _marks() -> QuerySet[InvoluntaryMark]:
    return InvoluntaryMark.objects.select_related("transfer", "proposed_by", "decided_by").order_by("id")


def _mark_data(mark: InvoluntaryMark) -> dict[str, object]:
    return dict(InvoluntaryMarkSerializer(_marks().get(pk=mark.pk)).data)


class InvoluntaryMarkFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=InvoluntaryMarkStatus.choices)
    transfer = django_filters.NumberFilter(field_name="transfer_id")

    class Meta:
        model = InvoluntaryMark
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(
        tags=["transfers"], parameters=[FORMAT_PARAMETER], responses=list_responses(InvoluntaryMarkSerializer)
    ),
    retrieve=extend_schema(tags=["transfers"], responses={200: InvoluntaryMarkSerializer, **READ_ERRORS}),
)
class InvoluntaryMarkViewSet(CsvMixin, viewsets.GenericViewSet):
    """Proposals to class an inflow nobody proposed as involuntary, open and decided
    (`?status=proposed`: what waits for an approver)."""

    serializer_class = InvoluntaryMarkSerializer
    pagination_class = Pagination
    filter_backends = BACKENDS
    filterset_class = InvoluntaryMarkFilter

    def get_queryset(self) -> QuerySet[InvoluntaryMark]:
        return _marks()

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(InvoluntaryMarkSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(InvoluntaryMarkSerializer(self.get_object()).data)


class TransferMarkInvoluntaryApi(ApiMixin, APIView):
    write_permission = "reserve.execute_transfer"  # what its service checks

    class TransferMarkInvoluntaryInputSerializer(StrictInputSerializer):
        category = serializers.CharField(max_length=64, help_text="An involuntary category in force: dust, ...")
        reason = serializers.CharField(max_length=5000, help_text="Why the inflow came in without the reserve acting")

    @extend_schema(
        tags=["transfers"],
        request=TransferMarkInvoluntaryInputSerializer,
        parameters=[idempotency_parameter(required=True)],
        responses={201: InvoluntaryMarkSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Propose classing an inflow nobody proposed (seen on chain) as involuntary (dust, a donation
        to a published address, a fork). The transfer keeps its category until another person
        approves the mark; one open mark per transfer (a second is a 409)."""

        def perform() -> Response:
            data = self.TransferMarkInvoluntaryInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            transfer = get_object_or_404(Transfer.objects.all(), pk=pk)
            mark = involuntary_mark_propose(transfer=transfer, actor=request.user, **data.validated_data)
            return Response(_mark_data(mark), status=status.HTTP_201_CREATED)

        return idempotent(request, perform, required=True)


class _MarkDecisionApi(ApiMixin, APIView):
    write_permission = "reserve.approve_transfer"  # what its services check

    def mark(self, pk: int) -> InvoluntaryMark:
        return get_object_or_404(InvoluntaryMark.objects.all(), pk=pk)


class InvoluntaryMarkApproveApi(_MarkDecisionApi):
    class InvoluntaryMarkApproveInputSerializer(StrictInputSerializer):
        comment = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")

    @extend_schema(
        tags=["transfers"],
        request=InvoluntaryMarkApproveInputSerializer,
        parameters=[idempotency_parameter(required=True)],
        responses={200: InvoluntaryMarkSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Approve (a holder of reserve.approve_transfer other than the proposer): the transfer is
        classed into the proposed term, if it is still markable and the term still in force."""

        def perform() -> Response:
            data = self.InvoluntaryMarkApproveInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            mark = involuntary_mark_approve(mark=self.mark(pk), actor=request.user, **data.validated_data)
            return Response(_mark_data(mark))

        return idempotent(request, perform, required=True)


class InvoluntaryMarkRejectApi(_MarkDecisionApi):
    class InvoluntaryMarkRejectInputSerializer(StrictInputSerializer):
        comment = serializers.CharField(max_length=5000, help_text="Why the mark is refused")

    @extend_schema(
        tags=["transfers"],
        request=InvoluntaryMarkRejectInputSerializer,
        parameters=[idempotency_parameter(required=True)],
        responses={200: InvoluntaryMarkSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Reject (an approver other than the proposer): the transfer keeps its category."""

        def perform() -> Response:
            data = self.InvoluntaryMarkRejectInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            mark = involuntary_mark_reject(mark=self.mark(pk), actor=request.user, **data.validated_data)
            return Response(_mark_data(mark))

        return idempotent(request, perform, required=True)
