"""The append-only audit trail: who changed what, when, with the record before and after."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from reserve.api.base import FORMAT_PARAMETER, CsvMixin, Pagination, list_responses
from reserve.api.filters import BACKENDS, agency_filter, date_range, wallet_filter
from reserve.api.transfers import AuditEventSerializer
from reserve.audit.models import AuditEvent
from reserve.audit.selectors import audit_trail
from reserve.custody.models import Wallet
from reserve.transfers.models import Transfer


@date_range("at")
class AuditEventFilter(django_filters.FilterSet):
    action = django_filters.CharFilter()
    object_type = django_filters.CharFilter()
    object_id = django_filters.CharFilter()
    actor = django_filters.CharFilter(field_name="actor_label", label="Username (or 'system')")
    wallet = wallet_filter(method="filter_wallet", label="Events of this wallet and its transfers")
    agency = agency_filter(method="filter_agency", label="Events of this agency, its wallets and transfers")

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    @staticmethod
    def _ids(queryset: QuerySet[Any]) -> QuerySet[Any]:
        # object_id is text: compare with the ids as text, in the database.
        return queryset.annotate(text_id=Cast("pk", CharField())).values("text_id")

    def _touching(self, queryset: QuerySet[AuditEvent], wallets: QuerySet[Wallet]) -> QuerySet[AuditEvent]:
        transfers = Transfer.objects.filter(Q(source_wallet__in=wallets) | Q(destination_wallet__in=wallets))
        return queryset.filter(
            Q(object_type="reserve.wallet", object_id__in=self._ids(wallets))
            | Q(object_type="reserve.transfer", object_id__in=self._ids(transfers))
        )

    def filter_wallet(self, queryset: QuerySet[AuditEvent], name: str, value: Any) -> Any:
        return self._touching(queryset, Wallet.objects.filter(pk=value))

    def filter_agency(self, queryset: QuerySet[AuditEvent], name: str, value: Any) -> Any:
        touching = self._touching(queryset, Wallet.objects.filter(agency_id=value))
        return touching | queryset.filter(object_type="reserve.agency", object_id=str(int(value)))


@extend_schema_view(
    list=extend_schema(tags=["audit"], parameters=[FORMAT_PARAMETER], responses=list_responses(AuditEventSerializer))
)
class AuditEventViewSet(CsvMixin, viewsets.GenericViewSet):
    """Every state change of an operational record, newest first."""

    serializer_class = AuditEventSerializer
    pagination_class = Pagination
    filter_backends = BACKENDS
    filterset_class = AuditEventFilter

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return audit_trail()

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(AuditEventSerializer(page, many=True).data)
