"""Reconciliation history: runs per wallet at a block, and the discrepancies they found."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from reserve.api.base import FORMAT_PARAMETER, CsvMixin, Pagination, list_responses
from reserve.api.filters import BACKENDS, agency_filter, date_range, wallet_filter
from reserve.reconciliation.models import Discrepancy, DiscrepancyKind, DiscrepancyStatus, ReconciliationRun, RunStatus


class ReconciliationRunSerializer(serializers.ModelSerializer):
    wallet_name = serializers.CharField(source="wallet.name")

    class Meta:
        model = ReconciliationRun
        fields = [
            "id",
            "wallet",
            "wallet_name",
            "trigger",
            "status",
            "confirmation_depth",
            "height",
            "block_hash",
            "started_at",
            "finished_at",
            "blocks_scanned",
            "reorgs",
            "utxo_count",
            "chain_balance_sats",
            "final_balance_sats",
            "ledger_balance_sats",
            "matched_count",
            "observed_count",
            "finalized_count",
            "discrepancy_count",
            "error",
        ]


@date_range("started_at")
class ReconciliationRunFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=RunStatus.choices)
    wallet = wallet_filter(field_name="wallet_id")
    agency = agency_filter(field_name="wallet__agency_id")

    class Meta:
        model = ReconciliationRun
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(
        tags=["reconciliation"],
        parameters=[FORMAT_PARAMETER],
        responses=list_responses(ReconciliationRunSerializer),
    )
)
class ReconciliationRunViewSet(CsvMixin, viewsets.GenericViewSet):
    """Each reconciliation of a wallet at a block: chain, final and ledger balances and what it found."""

    serializer_class = ReconciliationRunSerializer
    pagination_class = Pagination
    filter_backends = BACKENDS
    filterset_class = ReconciliationRunFilter

    def get_queryset(self) -> QuerySet[ReconciliationRun]:
        return ReconciliationRun.objects.select_related("wallet").order_by("-started_at", "-id")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ReconciliationRunSerializer(page, many=True).data)


class DiscrepancySerializer(serializers.ModelSerializer):
    wallet_name = serializers.CharField(source="wallet.name")
    resolved_by = serializers.CharField(source="resolved_by.username", allow_null=True, default=None)

    class Meta:
        model = Discrepancy
        fields = [
            "id",
            "run",
            "wallet",
            "wallet_name",
            "kind",
            "txid",
            "vout",
            "transfer",
            "block_height",
            "expected_sats",
            "actual_sats",
            "detail",
            "status",
            "resolution_reason",
            "resolved_by",
            "resolved_at",
            "adjustment",
            "created_at",
        ]


@date_range("created_at")
class DiscrepancyFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DiscrepancyStatus.choices)
    kind = django_filters.ChoiceFilter(choices=DiscrepancyKind.choices)
    wallet = wallet_filter(field_name="wallet_id")
    agency = agency_filter(field_name="wallet__agency_id")
    run = django_filters.NumberFilter(field_name="run_id")

    class Meta:
        model = Discrepancy
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(
        tags=["reconciliation"],
        parameters=[FORMAT_PARAMETER],
        responses=list_responses(DiscrepancySerializer),
    )
)
class DiscrepancyViewSet(CsvMixin, viewsets.GenericViewSet):
    """Differences between the chain and the books, open until resolved with a reason."""

    serializer_class = DiscrepancySerializer
    pagination_class = Pagination
    filter_backends = BACKENDS
    filterset_class = DiscrepancyFilter

    def get_queryset(self) -> QuerySet[Discrepancy]:
        return Discrepancy.objects.select_related("wallet", "resolved_by").order_by("-created_at", "-id")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(DiscrepancySerializer(page, many=True).data)
