"""Agencies and custody wallets: lists and details for every role, registration for operators."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Count, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from reserve.api.base import (
    FORMAT_PARAMETER,
    READ_ERRORS,
    WRITE_ERRORS,
    BtcField,
    CsvMixin,
    Pagination,
    StrictInputSerializer,
    list_responses,
)
from reserve.api.filters import BACKENDS, agency_filter, date_range, wallet_filter
from reserve.api.idempotency import idempotency_parameter, idempotent
from reserve.custody.descriptors import MAX_GAP_LIMIT
from reserve.custody.models import Agency, AgencyKind, Network, Wallet, WalletKind
from reserve.custody.services import agency_create, wallet_register
from reserve.reconciliation.models import ReconciliationRun
from reserve.reports.wallets import (
    wallet_addresses,
    wallet_balances,
    wallet_last_reconciliation,
    wallet_list,
)

# ---- agencies -------------------------------------------------------------------------------


class AgencySerializer(serializers.ModelSerializer):
    wallet_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Agency
        fields = ["id", "name", "kind", "jurisdiction", "wallet_count", "created_at"]


@date_range("created_at")
class AgencyFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=AgencyKind.choices)
    agency = agency_filter(field_name="pk")

    class Meta:
        model = Agency
        fields: list[str] = []


class AgencyCreateInput(StrictInputSerializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=AgencyKind.choices, default=AgencyKind.OTHER)
    jurisdiction = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


@extend_schema_view(
    list=extend_schema(tags=["custody"], parameters=[FORMAT_PARAMETER], responses=list_responses(AgencySerializer)),
    retrieve=extend_schema(tags=["custody"], responses={200: AgencySerializer, **READ_ERRORS}),
)
class AgencyViewSet(CsvMixin, viewsets.GenericViewSet):
    """Holding entities. Operators register new ones (POST)."""

    serializer_class = AgencySerializer
    pagination_class = Pagination
    filter_backends = BACKENDS
    filterset_class = AgencyFilter
    write_permission = "reserve.add_agency"  # what its service checks

    def get_queryset(self) -> QuerySet[Agency]:
        return Agency.objects.annotate(wallet_count=Count("wallets")).order_by("name")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(AgencySerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(AgencySerializer(self.get_object()).data)

    @extend_schema(
        tags=["custody"],
        request=AgencyCreateInput,
        parameters=[idempotency_parameter(required=False)],
        responses={201: AgencySerializer, **WRITE_ERRORS},
    )
    def create(self, request: Request) -> Response:
        def perform() -> Response:
            data = AgencyCreateInput(data=request.data)
            data.is_valid(raise_exception=True)
            agency = agency_create(actor=request.user, **data.validated_data)
            return Response(
                AgencySerializer(self.get_queryset().get(pk=agency.pk)).data, status=status.HTTP_201_CREATED
            )

        return idempotent(request, perform, required=False)


# ---- wallets --------------------------------------------------------------------------------


class AgencyRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class WalletSerializer(serializers.ModelSerializer):
    agency = AgencyRefSerializer()
    balance_sats = serializers.IntegerField(source="ledger_account.balance.balance_sats", help_text="Booked")
    balance_btc = BtcField(source="ledger_account.balance.balance_sats")
    pending_out_sats = serializers.IntegerField(
        source="ledger_account.balance.pending_sats", help_text="Held by approved outflows not yet confirmed"
    )
    last_reconciliation_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = Wallet
        fields = [
            "id",
            "name",
            "agency",
            "kind",
            "network",
            "in_perimeter",
            "birthday_height",
            "gap_limit",
            "balance_sats",
            "balance_btc",
            "pending_out_sats",
            "last_reconciliation_id",
            "created_at",
        ]


class DescriptorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    descriptor = serializers.CharField()
    kind = serializers.CharField()
    is_ranged = serializers.BooleanField()
    next_index = serializers.DictField(child=serializers.IntegerField(), help_text="chain -> first underived index")


class AddressSerializer(serializers.Serializer):
    address = serializers.CharField()
    descriptor_id = serializers.IntegerField(allow_null=True)
    derivation_path = serializers.CharField()
    chain = serializers.IntegerField(allow_null=True)
    index = serializers.IntegerField(allow_null=True)
    used = serializers.BooleanField()


class BalancesSerializer(serializers.Serializer):
    balance_sats = serializers.IntegerField(help_text="Booked, including entries of blocks not yet buried")
    balance_btc = BtcField(source="balance_sats")
    pending_out_sats = serializers.IntegerField()
    available_sats = serializers.IntegerField()
    available_btc = BtcField(source="available_sats")
    confirmed_sats = serializers.IntegerField(help_text="Booked, without entries of blocks above tip - depth + 1")
    confirmed_btc = BtcField(source="confirmed_sats")
    tip_height = serializers.IntegerField(allow_null=True)
    confirmation_depth = serializers.IntegerField()


class ReconciliationSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = ReconciliationRun
        fields = [
            "id",
            "status",
            "height",
            "block_hash",
            "started_at",
            "finished_at",
            "chain_balance_sats",
            "final_balance_sats",
            "ledger_balance_sats",
            "discrepancy_count",
            "error",
        ]


class WalletDetailSerializer(WalletSerializer):
    descriptors = DescriptorSerializer(many=True)
    addresses = serializers.SerializerMethodField()
    balances = serializers.SerializerMethodField()
    last_reconciliation = serializers.SerializerMethodField()
    last_checked_at = serializers.DateTimeField(
        source="scan_cursor.checked_at",
        allow_null=True,
        read_only=True,
        default=None,
        help_text="The last successful reconciliation; one that found nothing new records no run",
    )

    class Meta(WalletSerializer.Meta):
        fields = [
            *WalletSerializer.Meta.fields,
            "descriptors",
            "addresses",
            "balances",
            "last_reconciliation",
            "last_checked_at",
        ]

    @extend_schema_field(AddressSerializer(many=True))
    def get_addresses(self, wallet: Wallet) -> Any:
        return AddressSerializer(wallet_addresses(wallet=wallet), many=True).data

    @extend_schema_field(BalancesSerializer)
    def get_balances(self, wallet: Wallet) -> Any:
        return BalancesSerializer(wallet_balances(wallet=wallet)).data

    @extend_schema_field(ReconciliationSummarySerializer(allow_null=True))
    def get_last_reconciliation(self, wallet: Wallet) -> Any:
        run = wallet_last_reconciliation(wallet=wallet)
        return None if run is None else ReconciliationSummarySerializer(run).data


@date_range("created_at")
class WalletFilter(django_filters.FilterSet):
    wallet = wallet_filter(field_name="pk")
    agency = agency_filter(field_name="agency_id")
    kind = django_filters.ChoiceFilter(choices=WalletKind.choices)
    network = django_filters.ChoiceFilter(choices=Network.choices)
    in_perimeter = django_filters.BooleanFilter()

    class Meta:
        model = Wallet
        fields: list[str] = []


class WalletRegisterInput(StrictInputSerializer):
    name = serializers.CharField(max_length=120)
    agency = serializers.PrimaryKeyRelatedField(queryset=Agency.objects.all())
    kind = serializers.ChoiceField(choices=WalletKind.choices)
    network = serializers.ChoiceField(choices=Network.choices)
    in_perimeter = serializers.BooleanField(default=True)
    birthday_height = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)
    gap_limit = serializers.IntegerField(min_value=1, max_value=MAX_GAP_LIMIT, default=20)
    descriptors = serializers.ListField(child=serializers.CharField(max_length=5000), default=list, max_length=50)
    addresses = serializers.ListField(child=serializers.CharField(max_length=100), default=list, max_length=1000)


@extend_schema_view(
    list=extend_schema(tags=["custody"], parameters=[FORMAT_PARAMETER], responses=list_responses(WalletSerializer)),
    retrieve=extend_schema(tags=["custody"], responses={200: WalletDetailSerializer, **READ_ERRORS}),
)
class WalletViewSet(CsvMixin, viewsets.GenericViewSet):
    """Custody wallets with booked balances; the detail adds descriptors, addresses, confirmed
    balance and the last reconciliation. Operators register new wallets (POST)."""

    serializer_class = WalletSerializer
    pagination_class = Pagination
    filter_backends = BACKENDS
    filterset_class = WalletFilter
    write_permission = "reserve.add_wallet"  # what its service checks

    def get_queryset(self) -> QuerySet[Wallet]:
        return wallet_list()

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(WalletSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        wallet = self.get_object()
        return Response(WalletDetailSerializer(wallet).data)

    @extend_schema(
        tags=["custody"],
        request=WalletRegisterInput,
        parameters=[idempotency_parameter(required=False)],
        responses={201: WalletDetailSerializer, **WRITE_ERRORS},
    )
    def create(self, request: Request) -> Response:
        def perform() -> Response:
            data = WalletRegisterInput(data=request.data)
            data.is_valid(raise_exception=True)
            wallet = wallet_register(actor=request.user, **data.validated_data)
            return Response(
                WalletDetailSerializer(self.get_queryset().get(pk=wallet.pk)).data, status=status.HTTP_201_CREATED
            )

        return idempotent(request, perform, required=False)
