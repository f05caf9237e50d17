"""GET /holdings/: holdings as of a time or a block height, grouped, with fiat value, in JSON or CSV."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reserve.api.base import (
    FORMAT_PARAMETER,
    QUERY_STRING,
    BtcField,
    CategoryField,
    CsvMixin,
    StrictInputSerializer,
    TimeField,
    csv_responses,
)
from reserve.api.filters import IdOrNameRelatedField
from reserve.custody.models import Agency, Wallet
from reserve.reports.holdings import GROUPS, holdings_report


class HoldingsRowSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    balance_sats = serializers.IntegerField()
    balance_btc = BtcField(source="balance_sats")
    fiat_value = serializers.DecimalField(max_digits=30, decimal_places=2, allow_null=True)
    wallet_id = serializers.IntegerField(allow_null=True)
    agency_id = serializers.IntegerField(allow_null=True)
    in_perimeter = serializers.BooleanField(allow_null=True)


class QuoteSerializer(serializers.Serializer):
    price = serializers.DecimalField(max_digits=24, decimal_places=8)
    at = serializers.DateTimeField()
    source = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.source


class HoldingsSerializer(serializers.Serializer):
    as_of = serializers.DateTimeField(source="point.as_of", allow_null=True)
    height = serializers.IntegerField(source="point.height", allow_null=True)
    block_hash = serializers.CharField(source="point.block_hash", allow_null=True)
    group_by = serializers.CharField()
    currency = serializers.CharField()
    quote = QuoteSerializer(allow_null=True, help_text="The price quote in force at as_of; null when none")
    total_sats = serializers.IntegerField()
    total_btc = BtcField(source="total_sats")
    perimeter_sats = serializers.IntegerField()
    perimeter_btc = BtcField(source="perimeter_sats")
    total_fiat_value = serializers.DecimalField(max_digits=30, decimal_places=2, allow_null=True)
    rows = HoldingsRowSerializer(many=True)


class HoldingsApi(CsvMixin, APIView):
    class HoldingsFilterSerializer(StrictInputSerializer):
        as_of = TimeField(required=False, help_text="Economic time (ISO 8601 with zone)")
        height = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
        group_by = serializers.ChoiceField(choices=GROUPS, default="wallet")
        currency = serializers.RegexField(
            r"^[A-Za-z]{3}$", required=False, help_text="ISO 4217, default the reporting currency"
        )
        wallet = IdOrNameRelatedField(queryset=Wallet.objects.all(), required=False)
        agency = IdOrNameRelatedField(queryset=Agency.objects.all(), required=False)
        in_perimeter = serializers.BooleanField(required=False, allow_null=True, default=None)
        category = CategoryField(required=False)
        involuntary = serializers.BooleanField(required=False, allow_null=True, default=None)
        format = serializers.ChoiceField(choices=["json", "csv", "api"], required=False)

        def validate(self, attrs: dict) -> dict:
            if attrs.get("as_of") is not None and attrs.get("height") is not None:
                raise serializers.ValidationError({"height": ["give as_of or height, not both"]})
            return attrs

    @extend_schema(
        tags=["reports"],
        parameters=[
            OpenApiParameter("as_of", OpenApiTypes.DATETIME, description="Holdings at this time (economic time)"),
            OpenApiParameter("height", OpenApiTypes.INT, description="Holdings at this block height"),
            OpenApiParameter("group_by", OpenApiTypes.STR, enum=list(GROUPS)),
            OpenApiParameter("currency", OpenApiTypes.STR, description="ISO 4217 code for the fiat value"),
            OpenApiParameter("wallet", OpenApiTypes.STR, description="Wallet id or name"),
            OpenApiParameter("agency", OpenApiTypes.STR, description="Wallets this agency (id or name) held then"),
            OpenApiParameter(
                "in_perimeter", OpenApiTypes.BOOL, description="Wallets in (or outside) the perimeter at the point"
            ),
            OpenApiParameter("category", OpenApiTypes.STR, description="An approved category"),
            OpenApiParameter(
                "involuntary",
                OpenApiTypes.BOOL,
                description="false: without what came in unasked (dust, donations, forks); true: only that",
            ),
            FORMAT_PARAMETER,
        ],
        responses=csv_responses(HoldingsSerializer, "Holdings stated at as_of, height and block_hash"),
    )
    def get(self, request: Request) -> Response:
        """Holdings in sats and BTC, per wallet, agency, category or provenance, with the fiat value at
        the quote in force, stated at a time (`as_of`) or block (`height`) and that block's hash."""
        query = self.HoldingsFilterSerializer(data=request.query_params.dict(), context=QUERY_STRING)
        query.is_valid(raise_exception=True)
        filters = query.validated_data
        wallets = Wallet.objects.all()
        if filters.get("wallet") is not None:
            wallets = wallets.filter(pk=filters["wallet"].pk)
        report = holdings_report(
            at=filters.get("as_of"),
            height=filters.get("height"),
            group_by=filters["group_by"],
            currency=filters.get("currency", ""),
            wallets=wallets,
            # Judged by the membership in force at the report's point, not today's.
            agency_id=filters["agency"].pk if filters.get("agency") is not None else None,
            in_perimeter=filters.get("in_perimeter"),
            category=filters.get("category", ""),
            involuntary=filters.get("involuntary"),
        )
        return Response(HoldingsSerializer(report).data)
