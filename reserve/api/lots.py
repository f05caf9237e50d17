"""GET /lots/: holdings by lot (each inflow's acquisition time, category, provenance and what is left
of it), filtered by wallet, agency, category and whether anything is left; JSON or CSV."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from reserve.api.base import FORMAT_PARAMETER, BtcField, CsvMixin, Pagination, list_responses
from reserve.api.filters import BACKENDS, agency_filter, date_range, wallet_filter
from reserve.compliance.lots import lots_held, lots_report
from reserve.compliance.models import Lot


class LotSerializer(serializers.ModelSerializer):
    wallet_name = serializers.CharField(source="wallet.name")
    left_sats = serializers.IntegerField()
    left_btc = BtcField(source="left_sats")
    amount_btc = BtcField(source="amount_sats")

    class Meta:
        model = Lot
        fields = [
            "id",
            "wallet",
            "wallet_name",
            "acquired_at",
            "category",
            "provenance_reference",
            "amount_sats",
            "amount_btc",
            "left_sats",
            "left_btc",
            "origin",
            "transfer",
            "created_at",
        ]


@date_range("acquired_at")
class LotFilter(django_filters.FilterSet):
    wallet = wallet_filter(field_name="wallet")
    agency = agency_filter(field_name="wallet__agency", label="Lots in wallets this agency holds now")
    category = django_filters.CharFilter()
    open = django_filters.BooleanFilter(method="filter_open", label="true: lots with something left")

    class Meta:
        model = Lot
        fields: list[str] = []

    def filter_open(self, queryset: QuerySet[Lot], name: str, value: Any) -> Any:
        return queryset.filter(lots_held(bool(value)))


@extend_schema_view(
    list=extend_schema(tags=["reports"], parameters=[FORMAT_PARAMETER], responses=list_responses(LotSerializer))
)
class LotViewSet(CsvMixin, viewsets.GenericViewSet):
    """Holdings by lot, oldest first per wallet: the lots still held sum to each wallet's booked balance."""

    serializer_class = LotSerializer
    pagination_class = Pagination
    filter_backends = BACKENDS
    filterset_class = LotFilter

    def get_queryset(self) -> QuerySet[Lot]:
        return lots_report()

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(LotSerializer(page, many=True).data)
