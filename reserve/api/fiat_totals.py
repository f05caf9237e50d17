"""Fiat totals (e.g. total public funds) as dated facts: every role reads them; a policy
administrator records one (POST), through `fiat_total_record`. A correction is a new record."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from policy.permissions import DRAFT_VERSION
from reserve.api.base import (
    FORMAT_PARAMETER,
    READ_ERRORS,
    WRITE_ERRORS,
    CsvMixin,
    Pagination,
    StrictInputSerializer,
    TimeField,
    list_responses,
)
from reserve.api.filters import BACKENDS, date_range
from reserve.api.idempotency import idempotency_parameter, idempotent
from reserve.compliance.models import FiatTotal
from reserve.compliance.services import fiat_total_record


@extend_schema_field({"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,2})?$", "example": "2000000000.00"})
class DecimalTextField(serializers.CharField):
    """A fiat amount as a decimal string; a JSON number is refused (a float does not keep cents)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError('must be a decimal number as a string, e.g. "1000000.00"')
        return super().to_internal_value(data)


class FiatTotalSerializer(serializers.ModelSerializer):
    amount = serializers.DecimalField(max_digits=24, decimal_places=2)
    recorded_by = serializers.CharField(source="recorded_by.username")

    class Meta:
        model = FiatTotal
        fields = ["id", "name", "currency", "amount", "as_of", "reference", "recorded_by", "recorded_at"]


class FiatTotalInput(StrictInputSerializer):
    name = serializers.CharField(max_length=80, help_text="A slug the policy names, e.g. public_funds")
    currency = serializers.CharField(max_length=3, help_text="ISO 4217, e.g. USD")
    amount = DecimalTextField(max_length=40, help_text="Positive, in whole cents, as a string")
    as_of = TimeField(help_text="From when the total is in force")
    reference = serializers.CharField(max_length=200, help_text="The document the total comes from")


@date_range("as_of")
class FiatTotalFilter(django_filters.FilterSet):
    name = django_filters.CharFilter()
    currency = django_filters.CharFilter()

    class Meta:
        model = FiatTotal
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(tags=["policy"], parameters=[FORMAT_PARAMETER], responses=list_responses(FiatTotalSerializer)),
    retrieve=extend_schema(tags=["policy"], responses={200: FiatTotalSerializer, **READ_ERRORS}),
)
class FiatTotalViewSet(CsvMixin, viewsets.GenericViewSet):
    """Fiat totals by name, the latest `as_of` first: the one in force at a time is the latest at or
    before it. Policy administrators record one (POST); nothing is edited or deleted."""

    serializer_class = FiatTotalSerializer
    pagination_class = Pagination
    filter_backends = BACKENDS
    filterset_class = FiatTotalFilter
    write_permission = DRAFT_VERSION  # what fiat_total_record checks

    def get_queryset(self) -> QuerySet[FiatTotal]:
        return FiatTotal.objects.select_related("recorded_by").order_by("name", "-as_of", "-id")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(FiatTotalSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(FiatTotalSerializer(self.get_object()).data)

    @extend_schema(
        tags=["policy"],
        request=FiatTotalInput,
        parameters=[idempotency_parameter(required=False)],
        responses={201: FiatTotalSerializer, **WRITE_ERRORS},
    )
    def create(self, request: Request) -> Response:
        def perform() -> Response:
            data = FiatTotalInput(data=request.data)
            data.is_valid(raise_exception=True)
            total = fiat_total_record(actor=request.user, **data.validated_data)
            return Response(
                FiatTotalSerializer(self.get_queryset().get(pk=total.pk)).data, status=status.HTTP_201_CREATED
            )

        return idempotent(request, perform, required=False)
